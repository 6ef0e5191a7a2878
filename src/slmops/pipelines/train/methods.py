"""Training methods: how the base model is wrapped before training, and how the result becomes one model.

lora / dora: PEFT adapters on a full-precision base. qlora: LoRA on a 4-bit NF4 base (bitsandbytes).
full: every weight trains; there is no adapter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slmops.config import TrainParams
from slmops.pipelines.train.quantization_aware import make_quantization_aware, round_weights_in_place

ADAPTER_METHODS = ("lora", "dora", "qlora")


def wrap_for_training(model: Any, params: TrainParams) -> Any:
    """Return the model to train, with only the method's parameters trainable."""
    if params.method == "full":
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        trainable = model
    else:
        from peft import LoraConfig, get_peft_model

        if params.method == "qlora":
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=params.gradient_checkpointing)
        config = LoraConfig(
            r=params.lora.r, lora_alpha=params.lora.alpha, lora_dropout=params.lora.dropout,
            target_modules=params.lora.target_modules, task_type="CAUSAL_LM", use_dora=params.method == "dora",
        )
        trainable = get_peft_model(model, config)
    if params.quantization_aware is not None:
        make_quantization_aware(trainable, params.method, params.quantization_aware,
                                reuse_rounded=not params.gradient_checkpointing)
    return trainable


def merge_for_export(trained: Any, params: TrainParams) -> Any:
    """A plain transformers model with the adapter folded in, merged in place (no second copy of the model).

    Trained quantization-aware with target 'merged', the merged weights are rounded onto the int4
    grid, so this model is exactly what the int4 target computes and its evaluation measures what
    ships. With target 'base' the base already lies on the grid and the adapter stays in float.
    QLoRA's base is 4-bit: use ``merge_qlora`` instead.
    """
    import torch

    merged = trained if params.method == "full" else trained.merge_and_unload()
    aware = params.quantization_aware
    if aware is not None and aware.target == "merged":
        # int4 grid values (code x scale) need more mantissa than bf16 has: keep them exact in fp32.
        merged = merged.to(torch.float32)  # converts parameter by parameter, never a whole second copy
        round_weights_in_place([m for m in merged.modules() if isinstance(m, torch.nn.Linear)], aware.block_size)
    return merged


def merge_from_folders(base_folder: Path, saved_folder: Path, params: TrainParams, dtype: Any,
                       trust_remote_code: bool = False) -> Any:
    """The merged model rebuilt from what training saved: an adapter on the full-precision base, or a full model.

    Used where the trained model cannot be merged where it stands: QLoRA (its base is 4-bit;
    merging there would re-quantize the result, and the ONNX builder applies the adapter to the
    unquantized base anyway) and sharded training (FSDP, DeepSpeed ZeRO-3), where no process holds
    all the weights. Quantization-aware rounding is applied as training applied it.
    """
    import torch
    from transformers import AutoModelForCausalLM

    aware = params.quantization_aware
    if aware is not None and aware.target == "merged":
        dtype = torch.float32  # int4 grid values need more mantissa than bf16 has
    load = {"dtype": dtype, "trust_remote_code": trust_remote_code, "use_safetensors": True}
    if params.method == "full":
        model = AutoModelForCausalLM.from_pretrained(saved_folder, **load)
    else:
        from peft import PeftModel

        model = AutoModelForCausalLM.from_pretrained(base_folder, **load)
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        if aware is not None and aware.target == "base":
            round_weights_in_place(linears, aware.block_size)
        model = PeftModel.from_pretrained(model, saved_folder).merge_and_unload()
    if aware is not None and aware.target == "merged":
        round_weights_in_place([m for m in model.modules() if isinstance(m, torch.nn.Linear)], aware.block_size)
    return model
