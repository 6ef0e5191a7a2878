"""Report figures as PNG bytes.

Uses matplotlib's object API (``Figure``), never pyplot: no global state, no GUI backend, and each
figure is freed when it goes out of scope. PNGs carry no "Software" stamp, so the same numbers give
the same bytes and DVC sees no change when nothing changed.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

LOSS_CURVE = "loss_curve.png"
QUALITY = "quality.png"
CONFUSION_MATRIX = "confusion_matrix.png"
DECODE_SPEED = "decode_speed.png"

QUALITY_METRICS = {"f1": "F1", "rougeL": "ROUGE-L", "exact_match": "Exact match"}  # key: axis label
OTHER_LABEL = "(other)"  # a prediction that is none of the labels: the base model's sentences
_DPI = 110


def is_classification(eval_metrics: dict[str, Any]) -> bool:
    """A confusion matrix only means something when answers are drawn from a known label set."""
    return eval_metrics.get("task") == "classification" and bool(eval_metrics.get("labels"))


def targets_with_decode_speed(all_export_metrics: dict[str, dict[str, Any]]) -> list[str]:
    return [name for name, metrics in all_export_metrics.items() if metrics.get("decode")]


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


def plot_loss_curve(loss_history: pd.DataFrame) -> bytes | None:
    """Training loss by step, learning rate on a twin axis; None when no loss was logged."""
    if "loss" not in loss_history or "step" not in loss_history:
        return None
    losses = loss_history.dropna(subset=["loss"])  # rows logging only eval/lr values have no loss
    if losses.empty:
        return None
    figure = Figure(figsize=(6.4, 3.4), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(losses["step"], losses["loss"], color="tab:blue", marker="o", markersize=3, label="training loss")
    axes.set_xlabel("step")
    axes.set_ylabel("loss", color="tab:blue")
    axes.grid(alpha=0.3)
    if "learning_rate" in loss_history:
        rates = loss_history.dropna(subset=["learning_rate"])
        if not rates.empty:
            rate_axes = axes.twinx()
            rate_axes.plot(rates["step"], rates["learning_rate"], color="tab:orange", linestyle="--", label="learning rate")
            rate_axes.set_ylabel("learning rate", color="tab:orange")
            rate_axes.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    axes.set_title("Training loss")
    return _png(figure)


def _grouped_bars(axes: Any, groups: list[str], series: dict[str, list[float]], value_format: str) -> None:
    width = 0.8 / max(len(series), 1)
    positions = np.arange(len(groups))
    for index, (name, values) in enumerate(series.items()):
        offsets = positions - 0.4 + width * (index + 0.5)
        bars = axes.bar(offsets, values, width, label=name)
        axes.bar_label(bars, labels=[format(v, value_format) for v in values], fontsize=7, padding=1)
    axes.set_xticks(positions, groups)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)


def plot_quality(eval_metrics: dict[str, Any], all_export_metrics: dict[str, dict[str, Any]]) -> bytes:
    """Base vs fine-tuned vs each ONNX target on the scores all of them report."""
    series = {
        "base": [eval_metrics.get("base", {}).get(m, 0.0) for m in QUALITY_METRICS],
        "tuned": [eval_metrics.get("tuned", {}).get(m, 0.0) for m in QUALITY_METRICS],
    }
    for name, metrics in all_export_metrics.items():
        if metrics.get("onnx"):
            series[f"onnx {name}"] = [metrics["onnx"].get(m, 0.0) for m in QUALITY_METRICS]
    figure = Figure(figsize=(6.4, 3.6), layout="constrained")
    axes = figure.add_subplot()
    _grouped_bars(axes, list(QUALITY_METRICS.values()), series, ".3f")
    axes.set_ylim(0, 1.1)  # headroom for the value labels above a perfect score
    axes.set_ylabel("score")
    axes.set_title(f"Quality on {eval_metrics.get('rows', '?')} validation rows")
    # Below the axes, where it can never hide a bar.
    figure.legend(fontsize=8, loc="outside lower center", ncols=min(len(series), 4))
    return _png(figure)


def confusion_counts(labels: list[str], predictions: list[dict[str, Any]]) -> tuple[list[str], np.ndarray]:
    """Counts of (reference, tuned prediction); anything outside ``labels`` lands in OTHER_LABEL."""
    names = [*labels, OTHER_LABEL]
    index = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(names), len(names)), dtype=int)
    for row in predictions:
        reference = index.get(str(row.get("reference", "")), len(labels))
        predicted = index.get(str(row.get("tuned", "")), len(labels))
        counts[reference, predicted] += 1
    return names, counts


def plot_confusion_matrix(labels: list[str], predictions: list[dict[str, Any]]) -> bytes:
    names, counts = confusion_counts(labels, predictions)
    # The (other) row and column only when something landed there: references are labels by design.
    rows = names if counts[-1].any() else names[:-1]
    columns = names if counts[:, -1].any() else names[:-1]
    counts = counts[: len(rows), : len(columns)]
    side = max(4.0, 0.55 * len(rows) + 2.0)
    figure = Figure(figsize=(side + 0.8, side), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes, shrink=0.8)
    axes.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=8)
    axes.set_yticks(range(len(rows)), rows, fontsize=8)
    axes.set_xlabel("tuned model's answer")
    axes.set_ylabel("reference")
    if len(rows) <= 20:  # beyond that the numbers overlap; the colours still read
        threshold = counts.max() / 2 if counts.size else 0
        for (row, column), count in np.ndenumerate(counts):
            colour = "white" if count > threshold else "black"
            axes.text(column, row, str(count), ha="center", va="center", fontsize=7, color=colour)
    figure.suptitle(f"Fine-tuned model: confusion matrix ({int(counts.sum())} rows)")  # spans the colour bar too
    return _png(figure)


def plot_decode_speed(all_export_metrics: dict[str, dict[str, Any]]) -> bytes | None:
    """Decode tokens/s of each ONNX target against the PyTorch model measured beside it."""
    names = targets_with_decode_speed(all_export_metrics)
    if not names:
        return None
    decode = [all_export_metrics[name]["decode"] for name in names]
    series = {
        "onnxruntime-genai": [d.get("onnx_tokens_per_second") or 0.0 for d in decode],
        "PyTorch fp32": [d.get("pytorch_tokens_per_second") or 0.0 for d in decode],
    }
    groups = [f"{name}\n{d['speedup']:.1f}× PyTorch" if d.get("speedup") else name for name, d in zip(names, decode)]
    figure = Figure(figsize=(max(4.0, 1.6 * len(names) + 2.5), 3.6), layout="constrained")
    axes = figure.add_subplot()
    _grouped_bars(axes, groups, series, ".1f")
    axes.set_ylim(0, max(max(values) for values in series.values()) * 1.12 or 1.0)
    axes.set_ylabel("tokens / second")
    axes.set_title("Decode speed (greedy)")
    figure.legend(fontsize=8, loc="outside lower center", ncols=2)
    return _png(figure)


def plot_report_figures(
    loss_history: pd.DataFrame,
    eval_metrics: dict[str, Any],
    predictions: list[dict[str, Any]],
    all_export_metrics: dict[str, dict[str, Any]],
) -> dict[str, bytes]:
    """Every figure this run has data for, keyed by file name (a node: PNG bytes, no file I/O)."""
    all_export_metrics = all_export_metrics or {}
    figures: dict[str, bytes | None] = {
        LOSS_CURVE: plot_loss_curve(loss_history),
        QUALITY: plot_quality(eval_metrics, all_export_metrics),
        CONFUSION_MATRIX: (
            plot_confusion_matrix(list(eval_metrics["labels"]), predictions) if is_classification(eval_metrics) else None
        ),
        DECODE_SPEED: plot_decode_speed(all_export_metrics),
    }
    return {name: png for name, png in figures.items() if png is not None}
