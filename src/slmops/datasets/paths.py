"""A file handed to a node as its path, for work that reads it in other processes (training under accelerate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset


class FilePathDataset(AbstractDataset[None, Path]):
    """Loads as the file's path (relative to the project root, as the catalog names it); never saved through."""

    def __init__(self, filepath: str):
        self._path = Path(filepath)

    def load(self) -> Path:
        return self._path

    def save(self, data: None) -> None:
        raise NotImplementedError("another catalog entry writes this file; this one only hands out its path")

    def _exists(self) -> bool:
        return self._path.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._path)}
