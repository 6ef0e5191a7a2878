"""Folders that tools write into themselves: ONNX models from the builder, trainer work folders."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from slmops.datasets.atomic import replace_dir, staging_path
from slmops.datasets.portable import check_no_machine_paths


class StagedFolderDataset(AbstractDataset[Path, Path]):
    """A folder a node built elsewhere (a staging path it returns), moved into place in one rename."""

    def __init__(self, path: str):
        self._path = Path(path)

    def load(self) -> Path:
        from slmops.lineage.compat import warn_if_incompatible

        warn_if_incompatible(self._path)
        return self._path

    def save(self, data: Path) -> None:
        check_no_machine_paths(Path(data), [Path.cwd().resolve(), Path(data).resolve()])
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # Move beside the destination first (a copy if it was built on another filesystem), so the
        # final step is a rename on one filesystem: a crash leaves the old folder or the new one.
        beside = staging_path(self._path)
        shutil.move(str(data), beside)
        replace_dir(beside, self._path)

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


class WorkFolderDataset(AbstractDataset[None, Path]):
    """A folder a library writes into as it goes (checkpoints, TensorBoard events): loads as its path."""

    def __init__(self, path: str):
        self._path = Path(path)

    def load(self) -> Path:
        self._path.mkdir(parents=True, exist_ok=True)
        return self._path

    def save(self, data: None) -> None:
        raise NotImplementedError("work folders are written by the library that uses them")

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
