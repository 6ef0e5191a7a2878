"""params.yaml sections `base_model`, `data`, `template`, `split`: what goes in and how it is cut."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from slmops.config.base import EMBEDDED_MODEL, Section


class BaseModelParams(Section):
    name_or_path: str = EMBEDDED_MODEL
    revision: str | None = None
    trust_remote_code: bool = False


class DataParams(Section):
    source: str
    format: Literal["auto", "jsonl", "json", "csv", "parquet", "hf_disk", "hf_hub"] = "auto"
    hf_split: str | None = None
    required_fields: list[str] = Field(default_factory=list)


class TemplateParams(Section):
    system: str | None = None
    prompt: str
    completion: str
    label_field: str | None = None
    use_chat_template: bool = True


class SplitParams(Section):
    seed: int = 42
    validation_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    test_fraction: float = Field(0.0, ge=0.0, lt=1.0)
    stratify: bool = True

    @model_validator(mode="after")
    def _fractions_leave_training_rows(self) -> SplitParams:
        if self.validation_fraction + self.test_fraction >= 1.0:
            raise ValueError("validation_fraction + test_fraction must be below 1 to leave rows to train on")
        return self
