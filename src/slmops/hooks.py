"""Kedro hooks: validate params.yaml and the base model before any node runs."""

from __future__ import annotations

from kedro.framework.hooks import hook_impl

from slmops.config import validate_params
from slmops.modeling.preflight import check_base_model


class ValidateParamsHook:
    @hook_impl
    def after_context_created(self, context) -> None:  # noqa: ANN001 - Kedro's KedroContext
        # Fail at start-up, naming the key, instead of deep inside a node; the base model too (its architecture,
        # the methods and targets asked of it, its chat template, its files), before any stage trains on it.
        check_base_model(validate_params(context.params))
