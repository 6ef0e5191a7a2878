"""Quality of an exported target against the PyTorch fine-tuned model, and the gate that stops a bad one.

evaluation_rows, task_labels, references_of and delta are copies of the evaluate stage's small helpers
(a stage never imports another stage's nodes); they move to one shared module when those land there.
"""

from __future__ import annotations

from typing import Any

from slmops.config import EvaluateParams
from slmops.errors import QualityGateError
from slmops.metrics import normalize_prediction


def evaluation_rows(examples: list[dict[str, Any]], params: EvaluateParams) -> list[dict[str, Any]]:
    return examples[: params.max_rows] if params.max_rows else examples


def task_labels(examples: list[dict[str, Any]]) -> list[str]:
    """The label set for macro-F1, or [] for free-text tasks (token-level F1 then)."""
    return sorted({e["label"] for e in examples}) if all("label" in e for e in examples) else []


def references_of(examples: list[dict[str, Any]]) -> list[str]:
    return [e.get("label", e["target"]) for e in examples]


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: round(after[k] - before[k], 4) for k in after if k in before and k != "seconds"}


def greedy_agreement(rows: list[dict[str, Any]], generations: list[str],
                     predictions: list[dict[str, Any]]) -> tuple[float, int]:
    """Share of rows where this target's answer equals PyTorch's (the evaluate stage's `tuned` prediction).

    Compared after the same normalization the metrics use (first line, quotes and final punctuation trimmed).
    """
    pytorch = {p["id"]: p["tuned"] for p in predictions if "tuned" in p}
    pairs = [(normalize_prediction(g), pytorch[r["id"]]) for r, g in zip(rows, generations) if r["id"] in pytorch]
    if not pairs:
        return float("nan"), 0
    return round(sum(a == b for a, b in pairs) / len(pairs), 4), len(pairs)


def check_quality_gate(metrics: dict[str, Any], max_quality_drop: float, metric: str = "f1") -> None:
    """Fail when the target's score falls more than ``max_quality_drop`` below PyTorch's."""
    if not metrics.get("ran"):
        return
    onnx, pytorch = metrics["quality"]["onnx"][metric], metrics["quality"]["pytorch"][metric]
    if onnx < pytorch - max_quality_drop:
        raise QualityGateError(f"target {metrics['target']}: {metric} {onnx:.4f} is {pytorch - onnx:.4f} below PyTorch's "
                               f"{pytorch:.4f}, more than export.max_quality_drop {max_quality_drop}; not shipped "
                               f"(see reports/metrics/export/{metrics['target']}.json)")
