"""Materialize the base model as a plain HF safetensors folder every later stage reads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from slmops.config import BaseModelParams, parse
from slmops.errors import InputDataError, UnsupportedError
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.sources import ModelSource, check_local_model, resolve_model_source
from slmops.pipelines.base_model.gguf_once import gguf_parsed_once


def materialize_base_model(base_model_params: dict[str, Any]) -> tuple[ModelBundle, dict[str, Any]]:
    """The base model as an HF folder, and what it took to load it (the report shows trust_remote_code)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    params: BaseModelParams = parse(BaseModelParams, base_model_params, "base_model")
    source = resolve_model_source(params.name_or_path)
    weights = check_local_model(source, params.name_or_path, allow_pickle=params.allow_pickle,
                                trust_remote_code=params.trust_remote_code)
    common = {"revision": params.revision, "trust_remote_code": params.trust_remote_code}
    if source.gguf_file:
        common["gguf_file"] = source.gguf_file
    try:
        with gguf_parsed_once():
            with _named_on_failure(source, "tokenizer"):
                tokenizer = AutoTokenizer.from_pretrained(source.location, **common)
            with _named_on_failure(source, "model"):
                model = AutoModelForCausalLM.from_pretrained(
                    source.location, dtype=torch.float32,
                    use_safetensors=None if params.allow_pickle or source.gguf_file else True, **common)
    except OSError as error:
        raise UnsupportedError(
            f"cannot load base model '{params.name_or_path}': {error}. Without hub access, use a local folder "
            "or the embedded default (base_model.name_or_path: embedded:SmolLM2-135M-Instruct)"
        ) from None
    if source.gguf_file:
        # GGUF weights are de-quantized to fp32 on load; the leftover quantization config would make
        # save_pretrained refuse (and mislead later loaders), so drop it.
        model.config.quantization_config = None
        del model.config.quantization_config
        model.hf_quantizer = None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    loaded = {"name_or_path": params.name_or_path, "weights": weights,
              "trust_remote_code": params.trust_remote_code, "allow_pickle": params.allow_pickle}
    return ModelBundle(model=model, tokenizer=tokenizer), loaded


@contextmanager
def _named_on_failure(source: ModelSource, part: str) -> Iterator[None]:
    """A model folder the start-up check passed and transformers still cannot read (a damaged tokenizer.json, a
    weight of the wrong shape): one line naming the file, instead of a traceback from deep inside transformers."""
    try:
        yield
    except OSError:  # hub access and missing files: the caller's message says what to do
        raise
    except Exception as error:  # noqa: BLE001 - safetensors, tokenizers and config validation raise their own types
        folder = Path(source.location)
        if source.gguf_file:
            file = folder / source.gguf_file
        elif type(error).__name__.startswith("StrictDataclass"):  # both loaders validate config.json first
            file = folder / "config.json"
        elif part == "tokenizer":
            file = next((folder / f for f in ("tokenizer.json", "tokenizer_config.json") if (folder / f).is_file()),
                        folder / "tokenizer.json")
        elif "safetensor" in type(error).__module__.lower() or "deserializ" in str(error):
            file = next(iter(sorted(folder.glob("*.safetensors"))), folder / "model.safetensors")
        else:
            file = folder / "config.json"  # a size mismatch: config.json disagrees with the weights
        said = " ".join(str(error).split())[:300] or type(error).__name__
        if "ignore_mismatched_sizes" in said:  # transformers printed the shapes above; its own line says only that
            said = "the sizes it describes disagree with the shapes of the weights"
        fix = ("copy the model's files again from where they came, or point base_model.name_or_path at a "
               "complete model")
        raise InputDataError(str(file), f"transformers cannot load the {part} ({said}); {fix}") from None
