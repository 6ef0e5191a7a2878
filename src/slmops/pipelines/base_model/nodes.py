"""Materialize the base model as a plain HF safetensors folder every later stage reads."""

from __future__ import annotations

from typing import Any

from slmops.config import BaseModelParams, parse
from slmops.errors import UnsupportedError
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.sources import check_local_model, resolve_model_source
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
            tokenizer = AutoTokenizer.from_pretrained(source.location, **common)
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
