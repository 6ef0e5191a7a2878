"""Report figures as PNG bytes.

Uses matplotlib's object API (``Figure``), never pyplot: no global state, no GUI backend, and each
figure is freed when it goes out of scope. PNGs carry no "Software" stamp, so the same numbers give
the same bytes and DVC sees no change when nothing changed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from slmops.pipelines.report.png import to_png
from slmops.pipelines.report.resource_plots import (
    STAGE_RESOURCES,
    TRAINING_RESOURCES,
    plot_stage_resources,
    plot_training_resources,
)

LOSS_CURVE = "loss_curve.png"
QUALITY = "quality.png"
CONFUSION_MATRIX = "confusion_matrix.png"
DECODE_SPEED = "decode_speed.png"
LENGTHS = "lengths.png"

OTHER_LABEL = "(other)"  # an answer that is none of the labels: the base model's sentences


def quality_metrics(eval_metrics: dict[str, Any]) -> dict[str, str]:
    """The scores drawn side by side (key: axis label): the ones each task kind is judged by."""
    if eval_metrics.get("task") == "classification":
        return {"f1": "Macro-F1", "accuracy": "Accuracy"}
    return {"rougeL": "ROUGE-L", "f1": "Token F1", "exact_match": "Exact match"}


def is_classification(eval_metrics: dict[str, Any]) -> bool:
    """A confusion matrix only means something when answers are drawn from a known label set."""
    return eval_metrics.get("task") == "classification" and bool(eval_metrics.get("labels"))


def targets_with_decode_speed(all_export_metrics: dict[str, dict[str, Any]]) -> list[str]:
    return [name for name, metrics in all_export_metrics.items() if metrics.get("decode")]


def plot_loss_curve(loss_history: pd.DataFrame | None, validation_history: pd.DataFrame | None = None) -> bytes | None:
    """Training (and validation) loss by step, learning rate on a twin axis; None when no loss was logged."""
    if loss_history is None or "loss" not in loss_history or "step" not in loss_history:
        return None
    losses = loss_history.dropna(subset=["loss"])  # rows logging only eval/lr values have no loss
    if losses.empty:
        return None
    figure = Figure(figsize=(6.4, 3.4), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(losses["step"], losses["loss"], color="tab:blue", marker="o", markersize=3, label="training loss")
    title = "Training loss"
    if validation_history is not None and {"step", "validation_loss"} <= set(validation_history.columns):
        validation = validation_history.dropna(subset=["validation_loss"])
        if not validation.empty:
            axes.plot(validation["step"], validation["validation_loss"], color="tab:green", marker="s",
                      markersize=4, label="validation loss")
            title = "Training and validation loss"
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="upper right")
    if "learning_rate" in loss_history:
        rates = loss_history.dropna(subset=["learning_rate"])
        if not rates.empty:
            rate_axes = axes.twinx()
            rate_axes.plot(rates["step"], rates["learning_rate"], color="tab:orange", linestyle="--", label="learning rate")
            rate_axes.set_ylabel("learning rate", color="tab:orange")
            rate_axes.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    axes.set_title(title)
    return to_png(figure)


def _grouped_bars(axes: Any, groups: list[str], series: dict[str, list[float]], value_format: str,
                  errors: dict[str, np.ndarray] | None = None) -> None:
    width = 0.8 / max(len(series), 1)
    positions = np.arange(len(groups))
    for index, (name, values) in enumerate(series.items()):
        offsets = positions - 0.4 + width * (index + 0.5)
        error = (errors or {}).get(name)
        bars = axes.bar(offsets, values, width, label=name, yerr=error, capsize=3 if error is not None else 0)
        axes.bar_label(bars, labels=[format(v, value_format) for v in values], fontsize=7, padding=1)
    axes.set_xticks(positions, groups)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)


def _errors(values: list[float], intervals: dict[str, Any], keys: list[str]) -> np.ndarray | None:
    """Asymmetric error bars from [low, high] intervals; None when any is missing."""
    bounds = [intervals.get(k) for k in keys]
    if not all(isinstance(b, list) and len(b) == 2 for b in bounds):
        return None
    return np.array([[max(v - b[0], 0.0) for v, b in zip(values, bounds)],
                     [max(b[1] - v, 0.0) for v, b in zip(values, bounds)]])


def plot_quality(eval_metrics: dict[str, Any], all_export_metrics: dict[str, dict[str, Any]]) -> bytes | None:
    """Base (and base on the int4 grid) vs fine-tuned vs each ONNX target on the main scores, 95% intervals."""
    metrics = quality_metrics(eval_metrics)
    keys = list(metrics)
    intervals = eval_metrics.get("intervals") or {}
    series: dict[str, list[float]] = {}
    errors: dict[str, np.ndarray] = {}
    bits = (eval_metrics.get("grid") or {}).get("bits", 4)
    names = {"base": "base", "base_with_label_list": "base, labels listed", "base_on_grid": f"base, int{bits} grid",
             "tuned": "fine-tuned"}
    for model, label in names.items():
        scores = eval_metrics.get(model)
        if isinstance(scores, dict):
            series[label] = [float(scores.get(m) or 0.0) for m in keys]
            bars = _errors(series[label], intervals.get(model) or {}, keys)
            if bars is not None:
                errors[label] = bars
    for name, target in all_export_metrics.items():
        if target.get("onnx"):
            label = f"onnx {name}"
            series[label] = [float(target["onnx"].get(m) or 0.0) for m in keys]
            bounds = target.get("intervals", {}).get("onnx") if isinstance(target.get("intervals"), dict) else None
            bars = _errors(series[label], bounds or target.get("onnx_intervals") or {}, keys)
            if bars is not None:
                errors[label] = bars
    if not series:
        return None
    figure = Figure(figsize=(6.4, 3.6), layout="constrained")
    axes = figure.add_subplot()
    _grouped_bars(axes, list(metrics.values()), series, ".3f", errors)
    axes.set_ylim(0, 1.15)  # headroom for the value labels above a perfect score
    axes.set_ylabel("score (95% interval)")
    axes.set_title(f"Quality on {eval_metrics.get('rows', '?')} validation rows")
    # Below the axes, where it can never hide a bar.
    figure.legend(fontsize=8, loc="outside lower center", ncols=min(len(series), 4))
    return to_png(figure)


def plot_confusion_matrix(confusion: dict[str, Any]) -> bytes | None:
    """The fine-tuned model's confusion matrix as eval.json holds it (``labels``, ``counts``)."""
    names, counts = confusion.get("labels"), np.array(confusion.get("counts") or [], dtype=int)
    if not names or counts.shape != (len(names), len(names)):
        return None
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
    axes.set_xlabel("fine-tuned model's answer")
    axes.set_ylabel("reference")
    if len(rows) <= 20:  # beyond that the numbers overlap; the colours still read
        threshold = counts.max() / 2 if counts.size else 0
        for (row, column), count in np.ndenumerate(counts):
            colour = "white" if count > threshold else "black"
            axes.text(column, row, str(count), ha="center", va="center", fontsize=7, color=colour)
    figure.suptitle(f"Fine-tuned model: confusion matrix ({int(counts.sum())} rows)")  # spans the colour bar too
    return to_png(figure)


def plot_lengths(predictions: list[dict[str, Any]]) -> bytes | None:
    """Histograms of prompt and completion lengths in tokens, over the evaluated rows."""
    prompts = [r["prompt_tokens"] for r in predictions if isinstance(r.get("prompt_tokens"), int)]
    completions = [r["completion_tokens"] for r in predictions if isinstance(r.get("completion_tokens"), int)]
    if not prompts or not completions:
        return None
    figure = Figure(figsize=(6.4, 2.8), layout="constrained")
    for index, (values, name) in enumerate(((prompts, "prompt"), (completions, "completion"))):
        axes = figure.add_subplot(1, 2, index + 1)
        axes.hist(values, bins=min(20, max(len(set(values)), 1)), color="tab:blue" if index == 0 else "tab:green")
        axes.set_xlabel(f"{name} tokens")
        axes.set_ylabel("rows")
        axes.grid(axis="y", alpha=0.3)
    figure.suptitle(f"Lengths of the {len(prompts)} evaluated rows")
    return to_png(figure)


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
    return to_png(figure)


def plot_report_figures(
    loss_history: pd.DataFrame,
    validation_loss_history: pd.DataFrame | None,
    eval_metrics: dict[str, Any],
    eval_details: dict[str, Any],
    predictions: list[dict[str, Any]],
    all_export_metrics: dict[str, dict[str, Any]],
    stage_resources: dict[str, dict[str, Any]] | None = None,
    train_resources: pd.DataFrame | None = None,
) -> dict[str, bytes]:
    """Every figure this run has data for, keyed by file name (a node: PNG bytes, no file I/O)."""
    all_export_metrics = all_export_metrics or {}
    eval_metrics = {**(eval_metrics or {}), **(eval_details or {})}
    confusion = ((eval_metrics.get("confusion") or {}).get("tuned") or {}) if is_classification(eval_metrics) else {}
    figures: dict[str, bytes | None] = {
        LOSS_CURVE: plot_loss_curve(loss_history, validation_loss_history),
        QUALITY: plot_quality(eval_metrics, all_export_metrics),
        CONFUSION_MATRIX: plot_confusion_matrix(confusion) if confusion else None,
        DECODE_SPEED: plot_decode_speed(all_export_metrics),
        LENGTHS: plot_lengths(predictions or []),
        STAGE_RESOURCES: plot_stage_resources(stage_resources),
        TRAINING_RESOURCES: plot_training_resources(train_resources),
    }
    return {name: png for name, png in figures.items() if png is not None}
