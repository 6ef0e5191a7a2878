"""Hugging Face model folders (safetensors + tokenizer) and PEFT adapter folders.

Both are saved portably: nothing in them names a path of the machine that wrote them (checked).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from slmops.datasets.atomic import atomic_dir
from slmops.datasets.folders import StagedFolderDataset
from slmops.datasets.portable import check_no_machine_paths, portable_model_name
from slmops.modeling.bundle import ModelBundle


def _machine_paths(staging: Path) -> list[Path]:
    return [Path.cwd().resolve(), staging.resolve()]


class HFModelDataset(AbstractDataset[ModelBundle, ModelBundle]):
    def __init__(self, path: str, trust_remote_code: bool = False):
        self._path = Path(path)
        self._trust_remote_code = bool(trust_remote_code)

    def load(self) -> ModelBundle:
        from slmops.lineage.compat import warn_if_incompatible

        warn_if_incompatible(self._path)
        return ModelBundle(path=self._path, trust_remote_code=self._trust_remote_code)

    def save(self, data: ModelBundle | Path) -> None:
        if isinstance(data, Path):  # a finished model folder written elsewhere (by training): move it into place
            check_no_machine_paths(data, _machine_paths(data))
            StagedFolderDataset(str(self._path)).save(data)
            return
        with atomic_dir(self._path) as staging, _unnamed(data.model.config):
            data.model.save_pretrained(staging, safe_serialization=True)
            data.tokenizer.save_pretrained(staging)
            check_no_machine_paths(staging, _machine_paths(staging))

    def _exists(self) -> bool:
        return (self._path / "config.json").is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


class PeftAdapterDataset(AbstractDataset[Path, Path]):
    """An adapter folder written by training, moved into place; loads as the folder path (adapters apply by path).

    ``base_model`` is the base's identity as the user gave it (``base_model.name_or_path``): the
    adapter's config and card name it instead of the folder the base was loaded from, so the same
    inputs give the same adapter bytes on every checkout. The base's content hash is recorded in
    ``adapter.lineage.json`` beside the adapter folder.
    """

    def __init__(self, path: str, base_model: str | None = None):
        self._path = Path(path)
        self._base_model = base_model

    def load(self) -> Path:
        from slmops.lineage.compat import warn_if_incompatible

        warn_if_incompatible(self._path)
        return self._path

    def save(self, data: Path) -> None:
        # The trainer always writes the folder (it may run in other processes), so no model object comes here.
        if not isinstance(data, Path):
            raise TypeError(f"PeftAdapterDataset saves an adapter folder (a Path), not {type(data).__name__}: "
                            "write the adapter with save_pretrained and pass its folder")
        if (data / "adapter_config.json").is_file():  # `train.method: full` leaves only a README
            _rename_base_in_folder(data, portable_model_name(self._base_model) if self._base_model else None)
        check_no_machine_paths(data, _machine_paths(data))
        StagedFolderDataset(str(self._path)).save(data)

    def _exists(self) -> bool:
        return (self._path / "adapter_config.json").is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "base_model": self._base_model}


@contextmanager
def _unnamed(config: Any) -> Iterator[None]:
    """Save without the folder the model was loaded from (transformers may write it as _name_or_path)."""
    before = getattr(config, "_name_or_path", "")
    config._name_or_path = ""
    try:
        yield
    finally:
        config._name_or_path = before


def _rename_base_in_folder(folder: Path, name: str | None) -> None:
    """Name the base ``name`` where PEFT wrote the folder it was loaded from: the config and the card.

    Set-valued fields (target_modules) are written sorted, so the same adapter gives the same bytes
    in every process (PEFT writes them in hash order).
    """
    import json

    config_file = folder / "adapter_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    written = config.get("base_model_name_or_path")
    config["base_model_name_or_path"] = name
    if isinstance(config.get("target_modules"), list):  # PEFT writes this set in hash order
        config["target_modules"] = sorted(config["target_modules"])
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    card = folder / "README.md"
    if written and card.is_file():
        card.write_text(card.read_text(encoding="utf-8").replace(written, name or ""), encoding="utf-8")
