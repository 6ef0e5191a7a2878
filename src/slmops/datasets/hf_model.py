"""Hugging Face model folders (safetensors + tokenizer) and PEFT adapter folders.

Both are saved portably: nothing in them names a path of the machine that wrote them (checked).
"""

from __future__ import annotations

import warnings
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


class PeftAdapterDataset(AbstractDataset[Any, Path]):
    """Saves a PEFT model's adapter weights only; loads as the folder path (adapters are applied by path).

    ``base_model`` is the base's identity as the user gave it (``base_model.name_or_path``): the
    adapter's config and card name it instead of the folder the base was loaded from, so the same
    inputs give the same adapter bytes on every checkout. The base's content hash is recorded in the
    adapter's ``lineage.json``.
    """

    def __init__(self, path: str, base_model: str | None = None):
        self._path = Path(path)
        self._base_model = base_model

    def load(self) -> Path:
        from slmops.lineage.compat import warn_if_incompatible

        warn_if_incompatible(self._path)
        return self._path

    def save(self, data: Any) -> None:
        name = portable_model_name(self._base_model) if self._base_model else None
        if isinstance(data, Path):  # a finished adapter folder written by training (maybe another process)
            if (data / "adapter_config.json").is_file():  # `train.method: full` leaves only a README
                _rename_base_in_folder(data, name)
            check_no_machine_paths(data, _machine_paths(data))
            StagedFolderDataset(str(self._path)).save(data)
            return
        with atomic_dir(self._path) as staging, _base_named(data, name), warnings.catch_warnings():
            # PEFT looks for the base's config.json under the name to see whether the vocabulary was
            # resized; an embedded name has none, and this pipeline never resizes the vocabulary.
            warnings.filterwarnings("ignore", message="Could not find a config file in embedded:")
            data.save_pretrained(staging, safe_serialization=True)
            check_no_machine_paths(staging, _machine_paths(staging))

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


@contextmanager
def _base_named(peft_model: Any, name: str | None) -> Iterator[None]:
    """Name the base ``name`` where PEFT writes it: the adapter config, and the card's front matter and tags.

    PEFT fills these in from the folder the base was loaded from (the model's ``name_or_path``). Sets
    in the config are written sorted, so the same adapter gives the same bytes in every process.
    """
    configs = list(getattr(peft_model, "peft_config", {}).values())
    before = [c.base_model_name_or_path for c in configs]
    # PEFT writes set-valued fields (target_modules) in hash order, which changes from run to run.
    sets = [(c, k, v) for c in configs for k, v in vars(c).items() if isinstance(v, set)]
    for config, key, value in sets:
        setattr(config, key, sorted(value))
    base = peft_model.get_base_model() if hasattr(peft_model, "get_base_model") else None
    base_before = (getattr(base, "name_or_path", None), getattr(getattr(base, "config", None), "_name_or_path", None))
    for config in configs:
        config.base_model_name_or_path = name
    if base is not None:
        base.name_or_path = name or ""  # the card's "base_model:adapter:" tag
        base.config._name_or_path = name or ""  # the card's "base_model:"
    try:
        yield
    finally:
        for config, value in zip(configs, before, strict=True):
            config.base_model_name_or_path = value
        for config, key, value in sets:
            setattr(config, key, value)
        if base is not None:
            base.name_or_path, base.config._name_or_path = base_before


def _rename_base_in_folder(folder: Path, name: str | None) -> None:
    """What ``_base_named`` does at save time, for an adapter folder PEFT already wrote elsewhere."""
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
