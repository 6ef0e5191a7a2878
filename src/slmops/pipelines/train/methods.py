"""Training methods: how the base model is wrapped before training. New methods plug in here."""

from __future__ import annotations

from typing import Any

from slmops.config import TrainParams
from slmops.errors import UnsupportedError


def wrap_for_training(model: Any, params: TrainParams) -> Any:
    """Return the model to train, with only the method's parameters trainable."""
    if params.method in ("lora", "dora"):
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(
            r=params.lora.r, lora_alpha=params.lora.alpha, lora_dropout=params.lora.dropout,
            target_modules=params.lora.target_modules, task_type="CAUSAL_LM", use_dora=params.method == "dora",
        )
        return get_peft_model(model, config)
    raise UnsupportedError(
        f"params.yaml: train.method '{params.method}' is not built yet; use 'lora' or 'dora' "
        "(QLoRA and full fine-tuning are planned, see the README)"
    )


def merge_for_export(trained: Any) -> Any:
    """A plain transformers model with the adapter folded in; the trained model is left intact."""
    import copy

    return copy.deepcopy(trained).merge_and_unload()
