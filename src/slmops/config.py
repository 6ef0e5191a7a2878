"""Typed, validated view of params.yaml, the one source of truth for parameters.

Kedro hands nodes plain dicts (``params:train``); nodes turn them into these models, and
``validate_params`` checks the whole file at start-up so a typo stops the run before any work.
"""

from __future__ import annotations

import difflib
import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from slmops.errors import ConfigError

EMBEDDED_MODEL = "embedded:SmolLM2-135M-Instruct"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseModelParams(_Section):
    name_or_path: str = EMBEDDED_MODEL
    revision: str | None = None
    trust_remote_code: bool = False


class DataParams(_Section):
    source: str
    format: Literal["auto", "jsonl", "json", "csv", "parquet", "hf_disk", "hf_hub"] = "auto"
    hf_split: str | None = None
    required_fields: list[str] = Field(default_factory=list)


class TemplateParams(_Section):
    system: str | None = None
    prompt: str
    completion: str
    label_field: str | None = None
    use_chat_template: bool = True


class SplitParams(_Section):
    seed: int = 42
    validation_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    test_fraction: float = Field(0.0, ge=0.0, lt=1.0)
    stratify: bool = True

    @model_validator(mode="after")
    def _fractions_leave_training_rows(self) -> SplitParams:
        if self.validation_fraction + self.test_fraction >= 1.0:
            raise ValueError("validation_fraction + test_fraction must be below 1 to leave rows to train on")
        return self


class LoraParams(_Section):
    r: int = Field(16, gt=0)
    alpha: int = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: str | list[str] = "all-linear"


class QuantizationAwareParams(_Section):
    """Train against the weights an int4 target will hold (MatMulNBits symmetric, blockwise)."""

    bits: Literal[4] = 4
    block_size: Literal[16, 32, 64, 128, 256] = 32


class TrainParams(_Section):
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


class EvaluateParams(_Section):
    max_new_tokens: int = Field(16, gt=0)
    batch_size: int = Field(16, gt=0)
    max_rows: int | None = Field(None, gt=0)
    sample_count: int = Field(8, ge=0)


class TargetParams(_Section):
    precision: Literal["int4", "int8", "fp16", "bf16", "fp32"]
    execution_provider: Literal["cpu", "cuda", "dml", "webgpu"]
    builder_options: dict[str, str | int | float | bool] = Field(default_factory=dict)


class SpeedParams(_Section):
    prompt_count: int = Field(8, gt=0)
    new_tokens: int = Field(64, gt=0)


class ExportParams(_Section):
    targets: list[str] = Field(min_length=1)
    target_options: dict[str, TargetParams]
    speed: SpeedParams = SpeedParams()

    @model_validator(mode="after")
    def _every_target_has_options(self) -> ExportParams:
        missing = [t for t in self.targets if t not in self.target_options]
        if missing:
            raise ValueError(f"targets {missing} have no entry under export.target_options")
        return self


class ReportParams(_Section):
    title: str = "slmops report"


class Params(_Section):
    base_model: BaseModelParams = BaseModelParams()
    data: DataParams
    template: TemplateParams
    split: SplitParams = SplitParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    export: ExportParams
    report: ReportParams = ReportParams()

    @model_validator(mode="after")
    def _int4_targets_match_the_training_grid(self) -> Params:
        aware = self.train.quantization_aware
        if aware is None:
            return self
        for name in self.export.targets:
            options = self.export.target_options[name]
            block = int(options.builder_options.get("block_size", 32))  # the builder's default
            if options.precision == "int4" and block != aware.block_size:
                raise ValueError(f"export.target_options.{name}.builder_options.block_size is {block} but "
                                 f"train.quantization_aware.block_size is {aware.block_size}: the int4 model would "
                                 "not hold the weights the adapter was trained against; make them equal")
        return self


# Keys Kedro's `--params` may add for one run without being a section of params.yaml.
RUNTIME_KEYS = {"target"}


def _describe(error: ValidationError, model: type[BaseModel], prefix: str) -> str:
    lines = []
    for item in error.errors():
        path = ".".join(str(p) for p in (prefix, *item["loc"]) if p != "")
        if item["type"] == "extra_forbidden":
            known = _known_keys(model, item["loc"][:-1])
            hint = difflib.get_close_matches(str(item["loc"][-1]), known, n=1)
            message = "unknown key" + (f" (did you mean '{hint[0]}'?)" if hint else f"; known keys: {', '.join(known)}")
        else:
            message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {message}" if path else message)
    return "params.yaml: " + "; ".join(lines)


def _known_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the model at ``loc``, stepping through nested models and dict[str, Model] values."""
    parts = list(loc)
    while parts:
        field = model.model_fields.get(str(parts.pop(0)))
        annotation = getattr(field, "annotation", None)
        if typing.get_origin(annotation) is dict:  # e.g. target_options: the next part is a free key
            annotation = typing.get_args(annotation)[1]
            if parts:
                parts.pop(0)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(model.model_fields)


def parse(model: type[_Section], values: dict[str, Any] | None, prefix: str = "") -> Any:
    """Validate ``values`` as ``model``, raising ConfigError that names the offending key."""
    try:
        return model.model_validate(values or {})
    except ValidationError as error:
        raise ConfigError(_describe(error, model, prefix)) from None


def validate_params(params: dict[str, Any]) -> Params:
    """Validate the whole parameter tree Kedro loaded from params.yaml."""
    sections = {k: v for k, v in params.items() if k not in RUNTIME_KEYS}
    return parse(Params, sections)
