"""The training loss: cross-entropy on completion tokens, optionally smoothed, class-weighted, or the user's own.

Prompt and padding positions carry the label -100 (see `modeling/encoding.py`) and never count.
"""

from __future__ import annotations

import importlib
from collections import Counter
from typing import Any, Callable

from slmops.config.train import LossParams
from slmops.errors import ConfigError
from slmops.modeling.encoding import IGNORE_INDEX

LossFunction = Callable[..., Any]  # (logits [B, T, V], labels [B, T], num_items_in_batch) -> scalar


def build_loss(params: LossParams, encoded_rows: list[dict[str, Any]]) -> LossFunction | None:
    """A Trainer ``compute_loss_func``, or None for the model's own completion-only cross-entropy."""
    if params.function is not None:
        return _shifted(load_user_loss(params.function))
    if params.label_smoothing == 0 and not params.class_weights:
        return None
    weights = completion_weights(encoded_rows) if params.class_weights else None
    return _shifted(_WeightedCrossEntropy(params.label_smoothing, weights))


def load_user_loss(dotted: str) -> LossFunction:
    """Import ``package.module:function``: this runs the user's code, which is why it happens only when named."""
    module_name, function_name = dotted.split(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"params.yaml: train.loss.function: cannot import '{dotted}': {error}") from None
    if not callable(function):
        raise ConfigError(f"params.yaml: train.loss.function: '{dotted}' is not a function")
    return function


def completion_weights(encoded_rows: list[dict[str, Any]]) -> dict[tuple[int, ...], float]:
    """Per completion (the label's tokens): 1 / its frequency, normalised so the mean row weight is 1."""
    counts = Counter(_completion_key(row["labels"]) for row in encoded_rows)
    raw = {key: 1.0 / count for key, count in counts.items()}
    mean = sum(raw[_completion_key(row["labels"])] for row in encoded_rows) / len(encoded_rows)
    return {key: weight / mean for key, weight in raw.items()}


def _completion_key(labels: Any) -> tuple[int, ...]:
    return tuple(int(t) for t in labels if int(t) != IGNORE_INDEX)


def _shifted(function: LossFunction) -> LossFunction:
    """Adapt (logits, labels) of one length to next-token pairs: logits at t predict the label at t + 1."""

    def compute_loss(outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        return function(logits[:, :-1, :], labels[:, 1:], num_items_in_batch)

    return compute_loss


class _WeightedCrossEntropy:
    def __init__(self, label_smoothing: float, weights: dict[tuple[int, ...], float] | None):
        self.label_smoothing, self.weights = label_smoothing, weights

    def __call__(self, logits: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
        import torch

        per_token = torch.nn.functional.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX,
            label_smoothing=self.label_smoothing, reduction="none",
        ).view(labels.shape)
        if self.weights is not None:
            row_weights = [self.weights.get(_completion_key(row.tolist()), 1.0) for row in labels]
            per_token = per_token * torch.tensor(row_weights, device=per_token.device).unsqueeze(1)
        # Normalised by the completion tokens of the whole accumulated batch, as the model's own loss is.
        count = num_items_in_batch if num_items_in_batch is not None else (labels != IGNORE_INDEX).sum()
        return per_token.sum() / count
