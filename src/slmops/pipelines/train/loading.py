"""Loading the base model for training: which device, which weight dtype, and the 4-bit base for QLoRA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slmops.config import TrainParams
from slmops.modeling.precision import training_precision


def training_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def compute_dtype_for(device: str, precision: str) -> Any:
    """The one place the training weights' dtype is chosen: bf16 on CUDA training in bf16, else fp32.

    ``precision`` is the resolved training precision (`slmops.modeling.precision.training_precision`).
    On CUDA the weights load in bf16 (not fp32 plus autocast), so a GPU holds one bf16 copy. On a
    CPU the weights stay fp32 and, in bf16, the matmuls run under autocast.
    """
    import torch

    return torch.bfloat16 if device.startswith("cuda") and precision == "bf16" else torch.float32


# Rows up to this long train with eager attention on a CPU under `train.attention: auto`. Measured on
# SmolLM2-135M (rows of ~25 tokens past the shared prefix, batch 8): PyTorch's CPU flash-attention
# kernels took ~0.19 s of a ~1.3 s step, eager attention ~0.04 s. Eager keeps each layer's
# [batch, heads, length, length] scores for backward, so long rows keep sdpa.
EAGER_ATTENTION_MAX_LENGTH = 256


def attention_implementation(device: str, params: TrainParams) -> str | None:
    """The attention kernel training asks for (`train.attention`); None leaves the model's own default."""
    if params.attention != "auto":
        return params.attention
    return "eager" if device == "cpu" and params.max_length <= EAGER_ATTENTION_MAX_LENGTH else None


def load_base_model(folder: Path, params: TrainParams, trust_remote_code: bool = False) -> Any:
    """The base model ready to wrap: in the compute dtype, 4-bit NF4 for QLoRA, no KV cache."""
    from transformers import AutoModelForCausalLM

    device = training_device()
    dtype = compute_dtype_for(device, training_precision(device, params.precision))
    options: dict[str, Any] = {}
    attention = attention_implementation(device, params)
    if attention is not None:
        options["attn_implementation"] = attention
    if params.method == "qlora":
        from transformers import BitsAndBytesConfig

        options["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype,
            bnb_4bit_use_double_quant=True,
        )
        if device == "cpu":
            options["device_map"] = {"": "cpu"}
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, trust_remote_code=trust_remote_code,
                                                 use_safetensors=True, **options)
    model.config.use_cache = False  # no KV cache while training: saves memory and time
    if params.method == "qlora":
        guard_cpu_4bit_gradients(model)
    return model


def guard_cpu_4bit_gradients(model: Any) -> None:
    """Keep bitsandbytes from repacking 4-bit weights for its AVX512-BF16 inference kernel.

    On CPUs with AVX512-BF16, bitsandbytes >= 0.49 repacks a Linear4bit's weight at its first
    no-grad eval forward (a validation pass) for a kernel with no backward; later training steps
    then get silently wrong gradients. Turning the flag off keeps the trainable path (tested).
    """
    import bitsandbytes as bnb

    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False
