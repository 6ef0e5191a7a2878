"""Which float precision training computes in, chosen once at start-up (`train.precision`).

bf16 autocast where the hardware has native bf16 matmuls (CUDA GPUs of compute capability 8.0+;
CPUs with AVX512-BF16 or AMX, or Arm's BF16 extension): the matmuls run about twice as fast and the
loss ends near fp32's. fp32 everywhere else, where bf16 would be emulated and slower than fp32.
`auto` picks between them; `bf16` and `fp32` force one (bf16 only where it is native: the start-up
params check says why not). On a CPU the weights stay fp32 either way (autocast casts per matmul),
so quantization-aware rounding and the merged, exported model do not depend on this choice; on
CUDA, bf16 also loads the weights in bf16.
"""

from __future__ import annotations

import platform
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Literal

from slmops.config.train import BF16_CPU_FLAGS, bf16_missing, cpu_flags
from slmops.errors import UnsupportedError

Precision = Literal["bf16", "fp32"]


def training_precision(device: str, requested: str = "auto") -> Precision:
    """The precision ``device`` ('cpu', 'cuda', 'cuda:0', ...) trains in for ``train.precision: requested``."""
    if requested == "fp32":
        return "fp32"
    missing = bf16_missing(device)
    if requested == "bf16" and missing:  # the start-up check says this first; a rank on other hardware may not
        raise UnsupportedError(f"train.precision 'bf16': {missing}; set train.precision to auto or fp32")
    return "fp32" if missing else "bf16"


def precision_reason(device: str, precision: Precision, requested: str = "auto") -> str:
    """One line for the log: what was chosen and why."""
    if requested != "auto":
        return f"{precision}: train.precision is {requested}"
    if device != "cpu":
        return f"{precision} on {device} (train.precision auto)"
    if precision == "bf16":
        found = sorted(BF16_CPU_FLAGS & cpu_flags())
        return f"bf16 autocast: this CPU ({platform.machine()}) has {', '.join(found)} (train.precision auto)"
    return (f"fp32: this CPU ({platform.machine()}) has none of {', '.join(sorted(BF16_CPU_FLAGS))} "
            "(train.precision auto)")


def training_arguments_precision(precision: Precision) -> dict[str, Any]:
    """The transformers ``TrainingArguments`` keywords that train in ``precision`` (autocast)."""
    return {"bf16": precision == "bf16", "fp16": False}


def autocast(device: str, precision: Precision) -> AbstractContextManager[Any]:
    """A context that computes in ``precision`` on ``device`` (for code outside the HF Trainer)."""
    if precision == "fp32":
        return nullcontext()
    import torch

    return torch.autocast(device.split(":")[0], dtype=torch.bfloat16)
