"""Kedro hooks: validate params.yaml before any node runs."""

from __future__ import annotations

from kedro.framework.hooks import hook_impl

from slmops.config import validate_params


class ValidateParamsHook:
    @hook_impl
    def after_context_created(self, context) -> None:  # noqa: ANN001 - Kedro's KedroContext
        # Fail at start-up, naming the key, instead of deep inside a node.
        validate_params(context.params)
