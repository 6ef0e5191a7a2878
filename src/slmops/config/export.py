"""params.yaml section `export`: hardware targets and how they are measured."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from slmops.config.base import Section


class TargetParams(Section):
    precision: Literal["int4", "int8", "fp16", "bf16", "fp32"]
    execution_provider: Literal["cpu", "cuda", "dml", "webgpu"]
    builder_options: dict[str, str | int | float | bool] = Field(default_factory=dict)


class SpeedParams(Section):
    prompt_count: int = Field(8, gt=0)
    new_tokens: int = Field(64, gt=0)


class ExportParams(Section):
    targets: list[str] = Field(min_length=1)
    target_options: dict[str, TargetParams]
    speed: SpeedParams = SpeedParams()

    @model_validator(mode="after")
    def _every_target_has_options(self) -> ExportParams:
        missing = [t for t in self.targets if t not in self.target_options]
        if missing:
            raise ValueError(f"targets {missing} have no entry under export.target_options")
        return self
