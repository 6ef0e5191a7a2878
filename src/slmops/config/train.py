"""params.yaml section `train`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from slmops.config.base import Section


class LoraParams(Section):
    r: int = Field(16, gt=0)
    alpha: int = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: str | list[str] = "all-linear"


class QuantizationAwareParams(Section):
    """Train against the weights an int4 target will hold (MatMulNBits symmetric, blockwise)."""

    bits: Literal[4] = 4
    block_size: Literal[16, 32, 64, 128, 256] = 32


class TrainParams(Section):
    # Seam for work to come: LoRA and DoRA (PEFT) are built; qlora and full are named so a user gets a clear answer.
    method: Literal["lora", "dora", "qlora", "full"] = "lora"
    seed: int = 42
    epochs: float = Field(1.0, gt=0)
    learning_rate: float = Field(2e-4, gt=0)
    batch_size: int = Field(8, gt=0)
    gradient_accumulation_steps: int = Field(1, gt=0)
    max_length: int = Field(256, gt=8)
    warmup_ratio: float = Field(0.05, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.0, ge=0.0)
    lr_scheduler: str = "linear"
    logging_steps: int = Field(5, gt=0)
    save_steps: int = Field(50, gt=0)
    group_by_length: bool = True
    lora: LoraParams = LoraParams()
    quantization_aware: QuantizationAwareParams | None = None

    @model_validator(mode="after")
    def _quantization_aware_needs_plain_lora(self) -> TrainParams:
        if self.quantization_aware is not None and self.lora.dropout > 0:
            raise ValueError("quantization_aware folds the adapter into the weights, where dropout cannot apply: "
                             "set train.lora.dropout to 0")
        return self
