"""Small JSON files (metrics, summaries) written atomically, pretty-printed for diffs in git."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from slmops.datasets.atomic import atomic_file


class JSONDocumentDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    def __init__(self, filepath: str):
        self._filepath = Path(filepath)

    def load(self) -> dict[str, Any]:
        return json.loads(self._filepath.read_text(encoding="utf-8"))

    def save(self, data: dict[str, Any]) -> None:
        with atomic_file(self._filepath) as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False, sort_keys=False)
            handle.write("\n")

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


class JSONFolderDataset(AbstractDataset[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]):
    """Every ``*.json`` in a folder, keyed by file stem (e.g. one metrics file per export target)."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> dict[str, dict[str, Any]]:
        files = [p for p in sorted(self._path.glob("*.json")) if not p.name.endswith(".lineage.json")]  # records
        return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in files}

    def save(self, data: dict[str, dict[str, Any]]) -> None:
        for name, document in data.items():
            JSONDocumentDataset(str(self._path / f"{name}.json")).save(document)

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


class TextFileDataset(AbstractDataset[str, str]):
    """A text file (Markdown, HTML) written atomically."""

    def __init__(self, filepath: str):
        self._filepath = Path(filepath)

    def load(self) -> str:
        return self._filepath.read_text(encoding="utf-8")

    def save(self, data: str) -> None:
        with atomic_file(self._filepath) as handle:
            handle.write(data)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


class BinaryFolderDataset(AbstractDataset[dict[str, bytes], dict[str, bytes]]):
    """Named binary files (PNG plots) in one folder, each written atomically."""

    def __init__(self, path: str):
        self._path = Path(path)

    def load(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(self._path.iterdir()) if p.is_file()}

    def save(self, data: dict[str, bytes]) -> None:
        for name, payload in data.items():
            with atomic_file(self._path / name, "wb") as handle:
                handle.write(payload)

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


class OptionalYAMLDataset(AbstractDataset[None, dict[str, Any]]):
    """A YAML file read if present (dvc.lock before the first `dvc repro` is absent): {} otherwise."""

    def __init__(self, filepath: str):
        self._filepath = Path(filepath)

    def load(self) -> dict[str, Any]:
        import yaml

        if not self._filepath.is_file():
            return {}
        return yaml.safe_load(self._filepath.read_text(encoding="utf-8")) or {}

    def save(self, data: None) -> None:
        raise NotImplementedError("read-only")

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
