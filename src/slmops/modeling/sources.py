"""Where a base model comes from: the embedded GGUF, a local .gguf file or folder, or a Hugging Face id."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from slmops.errors import ConfigError
from slmops.modeling.embedded import embedded_gguf


@dataclass(frozen=True)
class ModelSource:
    location: str  # folder or hub id handed to from_pretrained
    gguf_file: str | None = None


def resolve_model_source(name_or_path: str) -> ModelSource:
    if name_or_path.startswith("embedded:"):
        gguf = embedded_gguf(name_or_path)
        return ModelSource(str(gguf.parent), gguf.name)
    path = Path(name_or_path).expanduser()
    if path.suffix.lower() == ".gguf":
        # A user's own GGUF, of any family transformers reads from GGUF: de-quantized on load like the embedded one.
        if not path.is_file():
            raise ConfigError(f"params.yaml: base_model.name_or_path: '{name_or_path}' does not exist; point it at a "
                              ".gguf file, a Hugging Face model folder, or embedded:SmolLM2-135M-Instruct")
        return ModelSource(str(path.parent), path.name)
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"params.yaml: base_model.name_or_path: '{name_or_path}' is a file; point it at a "
                              "Hugging Face model folder (config.json, *.safetensors, tokenizer files) or a .gguf file")
        if not (path / "config.json").is_file():
            raise ConfigError(f"params.yaml: base_model.name_or_path: '{name_or_path}' is a folder without config.json; "
                              "point it at a Hugging Face model folder")
        return ModelSource(str(path))
    # 'org/name' is a hub id unless 'org' is a folder here: then the user meant a path in it.
    if name_or_path.startswith(("/", ".", "~")) or name_or_path.count("/") != 1 or path.parent.is_dir():
        raise ConfigError(f"params.yaml: base_model.name_or_path: '{name_or_path}' does not exist; point it at a "
                          "Hugging Face model folder, a hub id like 'org/name', or embedded:SmolLM2-135M-Instruct")
    return ModelSource(name_or_path)  # a hub id: transformers resolves it (offline: from the local cache)


PICKLE_PATTERNS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")


def check_local_model(source: ModelSource, name_or_path: str, *, allow_pickle: bool, trust_remote_code: bool) -> str:
    """Refuse what a local folder would run on load; return the weights' format ("safetensors" or "pickle").

    Pickle checkpoints can execute code when unpickled, and ``auto_map`` in config.json names Python
    files of the model's own: both need the user's explicit consent in params.yaml.
    """
    folder = Path(source.location)
    if source.gguf_file or not folder.is_dir():
        return "gguf" if source.gguf_file else "hub"
    key = "params.yaml: base_model.name_or_path"
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if config.get("auto_map") and not trust_remote_code:
        raise ConfigError(f"{key}: '{name_or_path}' needs its own Python code (config.json auto_map: "
                          f"{', '.join(sorted(config['auto_map']))}), which runs on load; read it, then set "
                          "base_model.trust_remote_code: true if you trust it, or use a model transformers supports")
    if any(folder.glob("*.safetensors")):
        return "safetensors"
    pickled = sorted(p.name for pattern in PICKLE_PATTERNS for p in folder.glob(pattern) if "training_args" not in p.name)
    if not pickled:
        raise ConfigError(f"{key}: '{name_or_path}' holds no weights (*.safetensors); point it at a complete model folder")
    if not allow_pickle:
        raise ConfigError(f"{key}: '{name_or_path}' holds only pickle weights ({', '.join(pickled)}), which can run "
                          "code when loaded; convert them to safetensors (load once in a trusted session and "
                          "save_pretrained(..., safe_serialization=True)), or set base_model.allow_pickle: true "
                          "if you trust the file")
    return "pickle"
