"""Checkpoint folders keyed by what the run depends on, so only an identical run resumes from them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any


def run_fingerprint(train_params: dict[str, Any], train_examples: list[dict[str, Any]], base_config: dict) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(train_params, sort_keys=True).encode())
    digest.update(json.dumps(base_config, sort_keys=True, default=str).encode())
    for example in train_examples:
        digest.update(example["id"].encode())
        digest.update(example["prompt"].encode())
        digest.update(example["completion"].encode())
    return digest.hexdigest()[:16]


def prepare_run_folder(checkpoint_dir: Path, fingerprint: str) -> tuple[Path, str | None]:
    """The folder for this run and its newest checkpoint to resume from, if an identical run was cut off.

    Folders of other (stale) runs are removed so checkpoints do not pile up.
    """
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    for other in checkpoint_dir.iterdir():
        if other.is_dir() and other.name != fingerprint:
            shutil.rmtree(other, ignore_errors=True)
    folder = checkpoint_dir / fingerprint
    folder.mkdir(parents=True, exist_ok=True)
    checkpoints = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]))
    complete = [c for c in checkpoints if (c / "trainer_state.json").is_file()]
    return folder, (str(complete[-1]) if complete else None)
