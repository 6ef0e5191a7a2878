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
from slmops.config.evaluate import EvaluateParams
from slmops.config.export import ExportParams, SpeedParams, TargetParams
from slmops.config.lineage import LineageParams, MlflowParams
from slmops.config.report import ReportParams
from slmops.config.train import LoraParams, QuantizationAwareParams, TrainParams

__all__ = [
    "EMBEDDED_MODEL", "BaseModelParams", "DataParams", "EvaluateParams", "ExportParams", "LineageParams", "LoraParams",
    "MlflowParams", "Params",
    "QuantizationAwareParams", "ReportParams", "SpeedParams", "SplitParams", "TargetParams", "TemplateParams",
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


def validate_params(params: dict[str, Any]) -> Params:
    """Validate the whole parameter tree Kedro loaded from params.yaml."""
    sections = {k: v for k, v in params.items() if k not in RUNTIME_KEYS}
    return parse(Params, sections)
