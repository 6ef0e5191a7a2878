"""Write-then-rename, so a crash never leaves a half-written artifact where a finished one was."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def staging_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield an empty sibling folder; on success it replaces ``final`` in one rename."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(final)
    staging.mkdir()
    try:
        yield staging
        replace_dir(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def replace_dir(source: Path, final: Path) -> None:
    """Move the finished folder ``source`` to ``final``, removing what was there only afterwards."""
    final = Path(final)
    old = None
    if final.exists():
        old = staging_path(final)
        os.replace(final, old)
    os.replace(source, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_file(final: Path, mode: str = "w") -> Iterator:
    """Open a sibling temporary file for writing; it replaces ``final`` only once closed cleanly."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(final)
    try:
        with open(staging, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
        os.replace(staging, final)
    finally:
        staging.unlink(missing_ok=True)
