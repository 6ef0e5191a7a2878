"""Which float precision training computes in, chosen once at start-up from what the hardware does fast.

bf16 autocast where the hardware has native bf16 matmuls (CUDA GPUs that support it; CPUs with
AVX512-BF16 or AMX, or Arm's BF16 extension): the matmuls run about twice as fast and the loss
ends where fp32's does. fp32 everywhere else, where bf16 would be emulated and slower than fp32.
The weights stay fp32 either way (autocast casts per matmul), so quantization-aware rounding and the
merged, exported model are unchanged by this choice.
"""

from __future__ import annotations

import platform
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, Literal

Precision = Literal["bf16", "fp32"]

# /proc/cpuinfo flag names of native bf16 dot products (x86: AVX512-BF16, AMX; Arm: FEAT_BF16).
_BF16_CPU_FLAGS = {"avx512_bf16", "amx_bf16", "bf16"}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU feature flags the kernel reports (empty where there is no /proc/cpuinfo, e.g. macOS)."""
    if not cpuinfo.is_file():
        return set()
    flags: set[str] = set()
    for line in cpuinfo.read_text(errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86, Arm
            flags.update(value.split())
    return flags


def training_precision(device: str) -> Precision:
    """"bf16" where ``device`` ('cpu', 'cuda', 'cuda:0', ...) has native bf16 matmuls, else "fp32"."""
    if device.startswith("cuda"):
        import torch

        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    if device == "cpu":
        return "bf16" if _BF16_CPU_FLAGS & cpu_flags() else "fp32"
    return "fp32"


def precision_reason(device: str, precision: Precision) -> str:
    """One line for the log and the metrics: what was chosen and why."""
    if device != "cpu":
        return f"{precision} on {device}"
    found = sorted(_BF16_CPU_FLAGS & cpu_flags())
    if precision == "bf16":
        return f"bf16 autocast: this CPU ({platform.machine()}) has {', '.join(found)}"
    return f"fp32: this CPU ({platform.machine()}) has none of {', '.join(sorted(_BF16_CPU_FLAGS))}"


def training_arguments_precision(precision: Precision) -> dict[str, Any]:
    """The transformers ``TrainingArguments`` keywords that train in ``precision`` (autocast, fp32 weights)."""
    return {"bf16": precision == "bf16", "fp16": False}


def autocast(device: str, precision: Precision) -> AbstractContextManager[Any]:
    """A context that computes in ``precision`` on ``device`` (for code outside the HF Trainer)."""
    if precision == "fp32":
        return nullcontext()
    import torch

    return torch.autocast(device.split(":")[0], dtype=torch.bfloat16)
