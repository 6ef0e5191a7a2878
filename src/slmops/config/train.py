"""params.yaml section `train`: what is trained, how, and the combinations that cannot run (checked at start-up)."""

from __future__ import annotations

import importlib.util
import platform
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from slmops.config.base import Section

ACCELERATE_CONFIGS = Path("conf/accelerate")


class LoraParams(Section):
    r: int = Field(16, gt=0)
    alpha: int = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: str | list[str] = "all-linear"


class QuantizationAwareParams(Section):
    """Train against the weights an int4 target will hold (MatMulNBits symmetric, blockwise)."""

    bits: Literal[4] = 4
    block_size: Literal[16, 32, 64, 128, 256] = 32
    # merged: round W + scale*BA (the adapter is folded into an int4 model);
    # base: round only the frozen base W, once (the adapter ships apart, e.g. as an .onnx_adapter on an int4 base).
    target: Literal["merged", "base"] = "merged"


class LossParams(Section):
    """Cross-entropy on completion tokens; prompt tokens never carry loss."""

    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    # Weight each row by 1 / (how often its completion occurs), normalised to mean 1: rare labels count more.
    class_weights: bool = False
    # A user's own loss, "package.module:function"; imported only when named (this runs their code).
    function: str | None = Field(None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class EarlyStoppingParams(Section):
    patience: int = Field(3, gt=0)  # validations without a lower validation loss before stopping
    min_delta: float = Field(0.0, ge=0.0)


class TrainParams(Section):
    method: Literal["lora", "dora", "qlora", "full"] = "lora"
    # null: one process. Otherwise the name of an accelerate config in conf/accelerate/ (ddp, fsdp, ...).
    distributed: str | None = None
    seed: int = 42
    epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, gt=0)  # when set, overrides epochs
    learning_rate: float = Field(2e-4, gt=0)
    batch_size: int = Field(8, gt=0)
    gradient_accumulation_steps: int = Field(1, gt=0)
    gradient_checkpointing: bool = False
    max_length: int = Field(256, gt=8)
    warmup_ratio: float = Field(0.05, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.0, ge=0.0)
    lr_scheduler: Literal["linear", "cosine", "constant"] = "linear"
    logging_steps: int = Field(5, gt=0)
    save_steps: int = Field(50, gt=0)
    validation_steps: int | None = Field(None, gt=0)  # validation loss every N steps; null: never
    early_stopping: EarlyStoppingParams | None = None
    group_by_length: bool = True
    # auto: bf16 autocast where the hardware has native bf16 matmuls (CPU: AVX512-BF16, AMX or Arm BF16;
    # CUDA: compute capability 8.0+), else fp32. bf16 where it is not native stops at start-up.
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    # auto: eager attention on a CPU for rows up to 256 tokens (PyTorch's CPU flash-attention backward costs
    # more than the whole attention there), the model's own default elsewhere | eager | sdpa.
    attention: Literal["auto", "eager", "sdpa"] = "auto"
    loss: LossParams = LossParams()
    lora: LoraParams = LoraParams()
    quantization_aware: QuantizationAwareParams | None = None

    @model_validator(mode="after")
    def _combinations_that_can_run(self) -> TrainParams:
        aware = self.quantization_aware
        if aware is not None and self.method in ("lora", "dora") and self.lora.dropout > 0:
            raise ValueError("quantization_aware folds the adapter into the weights, where dropout cannot apply: "
                             "set train.lora.dropout to 0")
        if aware is not None and self.method == "qlora":
            raise ValueError("quantization_aware does not combine with method 'qlora': QLoRA trains against NF4 "
                             "base weights, quantization-aware training against the int4 target's grid, and a "
                             "weight cannot lie on both; use method 'lora' with quantization_aware for an int4 "
                             "target, or set train.quantization_aware to null")
        if aware is not None and aware.target == "base" and self.method != "lora":
            raise ValueError(f"quantization_aware.target 'base' keeps the adapter apart from an int4 base, which "
                             f"only plain LoRA adapters can be (method is '{self.method}'); use target 'merged'")
        if self.early_stopping is not None and self.validation_steps is None:
            raise ValueError("early_stopping watches the validation loss: set train.validation_steps too")
        if self.precision == "bf16":
            missing = bf16_missing("cuda" if _cuda_available() else "cpu")
            if missing:
                raise ValueError(f"precision 'bf16': {missing}; set train.precision to auto (bf16 where the "
                                 "hardware has it, fp32 elsewhere) or fp32")
        if self.distributed is not None:
            _check_accelerate_config(self.distributed)
        if self.method == "qlora":
            _check_qlora_can_run()
        return self


def _check_accelerate_config(name: str) -> None:
    path = ACCELERATE_CONFIGS / f"{name}.yaml"
    if not re.fullmatch(r"[\w.-]+", name) or not path.is_file():
        shipped = sorted(p.stem for p in ACCELERATE_CONFIGS.glob("*.yaml"))
        raise ValueError(f"distributed: no accelerate config '{path}'; "
                         f"shipped: {', '.join(shipped) or 'none'} (or null for one process)")
    import yaml

    kind = str((yaml.safe_load(path.read_text()) or {}).get("distributed_type", ""))
    if kind in ("FSDP", "DEEPSPEED") and not _cuda_available():
        raise ValueError(f"distributed: '{name}' ({kind}) shards the model over CUDA GPUs and this machine has "
                         "none; use 'ddp' (it runs on CPUs with gloo) or null")
    if kind == "DEEPSPEED" and importlib.util.find_spec("deepspeed") is None:
        raise ValueError(f"distributed: '{name}' needs the deepspeed package, which is not installed; "
                         "install it, or use 'fsdp' or 'ddp'")


def _check_qlora_can_run() -> None:
    """QLoRA needs bitsandbytes and CUDA, or an x86-64 CPU with AVX2: say why not, and what to use instead."""
    instead = "use method 'lora' (same adapter, full-precision base) or run on a CUDA GPU"
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ValueError(f"method 'qlora' needs the bitsandbytes package, which is not installed; install it or {instead}")
    if _cuda_available():
        return
    if platform.machine().lower() not in ("x86_64", "amd64") or not cpu_has_flag("avx2"):
        raise ValueError(f"method 'qlora' on a CPU needs x86-64 with AVX2 (bitsandbytes' 4-bit CPU kernels), and "
                         f"this machine has no CUDA GPU and {platform.machine()} without AVX2; {instead}")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


# /proc/cpuinfo flags of native bf16 dot products (x86: AVX512-BF16, AMX; Arm: FEAT_BF16).
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU feature flags the kernel reports (empty where there is no /proc/cpuinfo, e.g. macOS)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return set()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86, Arm
            flags.update(value.split())
    return flags


def cpu_has_flag(flag: str) -> bool:
    """Whether /proc/cpuinfo lists ``flag`` (Linux); False where it cannot be read."""
    return flag in cpu_flags()


def bf16_missing(device: str) -> str | None:
    """Why ``device`` ('cpu', 'cuda', 'cuda:0', ...) has no native bf16 matmuls; None where it has them."""
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False):
            return None
        return "this CUDA GPU has no native bf16 (it needs compute capability 8.0 or later)"
    if device == "cpu":
        if BF16_CPU_FLAGS & cpu_flags():
            return None
        return (f"this CPU ({platform.machine()}) has none of {', '.join(sorted(BF16_CPU_FLAGS))} in /proc/cpuinfo, "
                "so bf16 matmuls would be emulated, slower than fp32")
    return f"no native bf16 on '{device}'"
