"""The sweep file (`slmops sweep space.yaml`): what to search, how, for how many trials, towards what."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import optuna
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from slmops.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FloatRange(_Strict):
    type: Literal["float"]
    low: float
    high: float
    log: bool = False  # log-uniform, e.g. learning rates

    def distribution(self) -> optuna.distributions.BaseDistribution:
        return optuna.distributions.FloatDistribution(self.low, self.high, log=self.log)


class IntRange(_Strict):
    type: Literal["int"]
    low: int
    high: int
    step: int = 1
    log: bool = False

    def distribution(self) -> optuna.distributions.BaseDistribution:
        return optuna.distributions.IntDistribution(self.low, self.high, step=self.step, log=self.log)

    def grid(self) -> list[Any]:
        return list(range(self.low, self.high + 1, self.step))


class Choice(_Strict):
    type: Literal["choice"]
    choices: list[Any] = Field(min_length=1)

    def distribution(self) -> optuna.distributions.BaseDistribution:
        return optuna.distributions.CategoricalDistribution(self.choices)

    def grid(self) -> list[Any]:
        return self.choices


Dimension = Annotated[FloatRange | IntRange | Choice, Field(discriminator="type")]


class Objective(_Strict):
    # `<metrics file>:<dotted key>`, any number in any metrics file; null = the first int4 target's F1.
    metric: str | None = None
    direction: Literal["maximize", "minimize"] = "maximize"


class Pruning(_Strict):
    """Intermediate values the train stage writes while it runs: one CSV row per evaluation."""
    file: str = "reports/plots/validation_loss.csv"
    step: str = "step"
    value: str = "validation_loss"  # the column the train stage writes (train.validation_steps)
    direction: Literal["minimize", "maximize"] = "minimize"
    warmup_steps: int = 0


class SweepSpace(_Strict):
    params: dict[str, Dimension] = Field(min_length=1)  # params.yaml keys, e.g. train.learning_rate
    strategy: Literal["grid", "random", "tpe"] = "tpe"
    trials: int = Field(10, ge=1)
    seed: int = 0
    name: str = "sweep"  # experiments are named <name>-<trial number>
    objective: Objective = Objective()
    pruning: Pruning | None = Pruning()

    @model_validator(mode="after")
    def _grid_needs_finite_values(self) -> SweepSpace:
        if self.strategy == "grid":
            floats = [k for k, d in self.params.items() if isinstance(d, FloatRange)]
            if floats:
                raise ValueError(f"params.{floats[0]}: a grid needs finite values: use `type: choice` with a list")
        return self

    def sampler(self) -> optuna.samplers.BaseSampler:
        if self.strategy == "grid":
            return optuna.samplers.GridSampler({k: d.grid() for k, d in self.params.items()}, seed=self.seed)
        if self.strategy == "random":
            return optuna.samplers.RandomSampler(seed=self.seed)
        return optuna.samplers.TPESampler(seed=self.seed)

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        return {key: dimension.distribution() for key, dimension in self.params.items()}


def load_space(path: Path) -> SweepSpace:
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        return SweepSpace.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if not str(p).startswith(("function-after", "tagged-union")))
        raise ConfigError(f"{path}: {where or 'sweep'}: {first['msg']}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None


def default_metric(params: dict[str, Any]) -> str:
    """The first int4 target's F1 on the ONNX model (what ships), else the fine-tuned PyTorch F1."""
    export = params.get("export") or {}
    for target in export.get("targets") or []:
        if (export.get("target_options") or {}).get(target, {}).get("precision") == "int4":
            return f"reports/metrics/export/{target}.json:onnx.f1"
    return "reports/metrics/eval.json:tuned.f1"
