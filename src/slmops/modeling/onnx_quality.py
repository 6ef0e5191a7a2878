"""Quality of an exported target against the PyTorch fine-tuned model, and the gate that stops a bad one."""

from __future__ import annotations

from typing import Any

from slmops.errors import QualityGateError


def greedy_agreement(rows: list[dict[str, Any]], answers: list[str],
                     predictions: list[dict[str, Any]]) -> tuple[float, int]:
    """Share of rows where this target's answer equals PyTorch's (the evaluate stage's `tuned_answer`).

    Both are the answers as scored: taken out of the generation the same way (task, stop strings,
    answer pattern), by ``slmops.metrics.score_predictions``.
    """
    pytorch = {p["id"]: p.get("tuned_answer", p.get("tuned")) for p in predictions if "tuned" in p}
    pairs = [(a, pytorch[r["id"]]) for r, a in zip(rows, answers) if r["id"] in pytorch]
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
