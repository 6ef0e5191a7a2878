"""Typed, validated view of params.yaml, the one source of truth for parameters.

One module per params.yaml section; this module joins them into ``Params`` with the checks that
span sections. Kedro hands nodes plain dicts (``params:train``); nodes turn them into these models,
and ``validate_params`` checks the whole file at start-up so a typo stops the run before any work.
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from slmops.config.base import EMBEDDED_MODEL, Section, parse
from slmops.config.data import BaseModelParams, DataParams, SplitParams, TemplateParams
from slmops.config.evaluate import EvaluateParams, GenerationParams
from slmops.config.export import ExportParams, RuntimeParams, SpeedParams, TargetParams, check_float_weights
from slmops.config.lineage import LineageParams, MlflowParams
from slmops.config.report import ReportParams
from slmops.config.train import LoraParams, QuantizationAwareParams, TrainParams

__all__ = [
    "EMBEDDED_MODEL", "BaseModelParams", "DataParams", "EvaluateParams", "ExportParams", "GenerationParams",
    "LineageParams", "LoraParams", "MlflowParams", "Params",
    "QuantizationAwareParams", "ReportParams", "RuntimeParams", "SpeedParams", "SplitParams", "TargetParams", "TemplateParams",
    "TrainParams", "parse", "validate_params",
]


class Params(Section):
    base_model: BaseModelParams = BaseModelParams()
    data: DataParams
    template: TemplateParams
    split: SplitParams = SplitParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    export: ExportParams
    report: ReportParams = ReportParams()
    lineage: LineageParams = LineageParams()

    @model_validator(mode="after")
    def _int4_targets_match_the_training_grid(self) -> Params:
        aware = self.train.quantization_aware
        check_float_weights(self.export, self.train.method, aware)
        int4 = [t for t in self.export.targets if self.export.target_options[t].precision == "int4"]
        if self.export.adapters == "separate" and int4 and getattr(aware, "target", "merged") != "base":
            # A separate adapter runs as x @ Q(W) + x @ BA: only training against exactly that keeps it.
            raise ValueError(f"export.adapters: separate with int4 targets {int4} needs the adapter trained against "
                             "the frozen int4 base: set train.quantization_aware.target: base")
        if aware is None:
            return self
        for name in int4:
            options = self.export.target_options[name]
            if options.block_size != aware.block_size:
                raise ValueError(f"export.target_options.{name}.block_size is {options.block_size} but "
                                 f"train.quantization_aware.block_size is {aware.block_size}: the int4 model would "
                                 "not hold the weights the adapter was trained against; make them equal")
            builder = options.builder_options
            if str(builder.get("is_symmetric", True)).lower() in ("false", "0") or \
                    builder.get("algo_config", "default") != "default":
                raise ValueError(f"export.target_options.{name}.builder_options: quantization-aware training matches "
                                 "the builder's default symmetric int4 grid only (drop is_symmetric/algo_config)")
        return self


# Keys Kedro's `--params` may add for one run without being a section of params.yaml.
RUNTIME_KEYS = {"target"}


def validate_params(params: dict[str, Any]) -> Params:
    """Validate the whole parameter tree Kedro loaded from params.yaml."""
    sections = {k: v for k, v in params.items() if k not in RUNTIME_KEYS}
    return parse(Params, sections)
