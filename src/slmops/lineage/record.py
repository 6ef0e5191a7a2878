"""Where an artifact's lineage record lives, and reading and writing it.

Every artifact ``X``, a file or a folder, has ``X.lineage.json`` beside it (a DVC out of the same stage, so
DVC tracks it with the artifact). Never inside a folder: the record names the commit, library versions and
dates, so inside it would make a folder's hash differ between two runs that made the same files, and every
stage after it would rerun (DVC's early cut-off lost).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slmops.datasets.atomic import atomic_file
from slmops.errors import SlmopsError

SIDECAR_SUFFIX = ".lineage.json"
FORMAT_VERSION = 1


class LineageNotFoundError(SlmopsError):
    """The path is no artifact with a lineage record."""


def record_path(artifact: Path) -> Path:
    """``X.lineage.json`` beside the artifact ``X``, a file or a folder alike."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + SIDECAR_SUFFIX)


def write_record(artifact: Path, record: dict[str, Any]) -> Path:
    target = record_path(artifact)
    with atomic_file(target) as handle:
        json.dump(record, handle, indent=2, sort_keys=True, ensure_ascii=False)
        handle.write("\n")
    return target


def read_record(artifact: Path) -> dict[str, Any] | None:
    target = record_path(artifact)
    if not target.is_file():
        return None
    return json.loads(target.read_text(encoding="utf-8"))


def find_artifact(path: Path, root: Path, shown: str | None = None) -> Path:
    """The artifact ``path`` belongs to: itself, the file or folder a sidecar describes, or the folder holding it.

    ``shown`` is the path as the user wrote it, for error messages.
    """
    path = Path(path)
    shown = shown or str(path)
    if path.name.endswith(SIDECAR_SUFFIX):
        path = path.with_name(path.name[: -len(SIDECAR_SUFFIX)])
    if not path.exists():
        raise LineageNotFoundError(f"{shown}: no such file or folder")
    candidate = path.resolve()
    root = root.resolve()
    while True:
        if record_path(candidate).is_file():
            return candidate
        if candidate == root or candidate.parent == candidate:
            break
        candidate = candidate.parent
    raise LineageNotFoundError(f"{shown}: no lineage record (no {record_path(path).name}); "
                               "artifacts get one when a pipeline stage writes them (`dvc repro`)")


def relative(path: Path | str, root: Path) -> str:
    """``path`` relative to the project root, POSIX style; as given when outside the project."""
    resolved = Path(path).resolve() if Path(path).is_absolute() else (root / path).resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
