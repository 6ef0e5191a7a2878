"""Hugging Face model folders (safetensors + tokenizer) and PEFT adapter folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from slmops.datasets.atomic import atomic_dir
from slmops.datasets.folders import StagedFolderDataset
from slmops.modeling.bundle import ModelBundle


class HFModelDataset(AbstractDataset[ModelBundle, ModelBundle]):
    def __init__(self, path: str, trust_remote_code: bool = False):
        self._path = Path(path)
        self._trust_remote_code = bool(trust_remote_code)

    def load(self) -> ModelBundle:
        return ModelBundle(path=self._path, trust_remote_code=self._trust_remote_code)

    def save(self, data: ModelBundle | Path) -> None:
        if isinstance(data, Path):  # a finished model folder written elsewhere (by training): move it into place
            StagedFolderDataset(str(self._path)).save(data)
            return
        with atomic_dir(self._path) as staging:
            data.model.save_pretrained(staging, safe_serialization=True)
            data.tokenizer.save_pretrained(staging)

    def _exists(self) -> bool:
        return (self._path / "config.json").is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


class PeftAdapterDataset(AbstractDataset[Any, Path]):
    """Saves a PEFT model's adapter weights only; loads as the folder path (adapters are applied by path)."""

    def __init__(self, path: str):
        self._path = Path(path)

    def load(self) -> Path:
        return self._path

    def save(self, data: Any) -> None:
        with atomic_dir(self._path) as staging:
            data.save_pretrained(staging, safe_serialization=True)

    def _exists(self) -> bool:
        return (self._path / "adapter_config.json").is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
