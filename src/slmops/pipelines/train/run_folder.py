"""Checkpoint folders keyed by what the run depends on, so only an identical run resumes from them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from slmops.pipelines.train.callbacks import COMPLETE_MARKER


def run_fingerprint(train_params: dict[str, Any], world_size: int, files: list[Path]) -> str:
    """A hash of the train params, the number of processes and the bytes of every input file.

    ``files`` are the train and validation splits and the base model folder's files, so other
    params, data or base weights never resume this run's checkpoints.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(train_params, sort_keys=True).encode())
    digest.update(str(world_size).encode())
    for path in files:
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def model_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.is_file())


def prepare_run_folder(checkpoint_dir: Path, fingerprint: str) -> Path:
    """This run's folder; folders of other (stale) runs are removed so checkpoints do not pile up."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    for other in checkpoint_dir.iterdir():
        if other.is_dir() and other.name != fingerprint:
            shutil.rmtree(other, ignore_errors=True)
    folder = checkpoint_dir / fingerprint
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def latest_complete_checkpoint(run_folder: Path) -> Path | None:
    """The newest checkpoint whose save finished (it holds the marker written after the save)."""
    checkpoints = [c for c in Path(run_folder).glob("checkpoint-*") if (c / COMPLETE_MARKER).is_file()]
    return max(checkpoints, key=lambda p: int(p.name.rsplit("-", 1)[1]), default=None)


def remove_checkpoints(run_folder: Path) -> None:
    for checkpoint in Path(run_folder).glob("checkpoint-*"):
        shutil.rmtree(checkpoint, ignore_errors=True)
