"""Figures of where the time and memory went: per-stage bars and training's curves by step.

Same rules as plots.py (object API, PNG without a Software stamp, png.to_png). The ``draw_*`` functions return
the Figure so tests can read what is drawn; ``plot_*`` return its PNG bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from slmops.pipelines.report.png import to_png
from slmops.pipelines.report.resources import machine_memory_mb, number, ordered_stages, peak_memory

STAGE_RESOURCES = "stage_resources.png"
TRAINING_RESOURCES = "training_resources.png"

_OWN, _CHILD = "tab:green", "tab:purple"
# (column, label, line style) of the GPU memory curves; torch's allocator figures on CUDA.
_GPU_CURVES = (("gpu_allocated_mb", "allocated", "-"), ("gpu_reserved_mb", "reserved", "--"),
               ("gpu_peak_mb", "peak", ":"))


def draw_stage_resources(stage_resources: dict[str, Any] | None) -> Figure | None:
    """Two panels sharing the stages (pipeline order, top to bottom): wall time split into start-up and
    nodes, and peak RSS (the larger of the stage's own and its largest child process's)."""
    records = ordered_stages(stage_resources)
    if not records:
        return None
    names = [name for name, _ in records]
    startup = np.array([number(r.get("startup_seconds")) or 0.0 for _, r in records])
    wall = np.array([number(r.get("wall_seconds")) or 0.0 for _, r in records])
    nodes = np.array([number(r.get("nodes_seconds")) for _, r in records], dtype=float)
    nodes = np.where(np.isnan(nodes), np.maximum(wall - startup, 0.0), nodes)
    peaks = [peak_memory(r) for _, r in records]
    memory = np.array([peak or 0.0 for peak, _ in peaks])

    figure = Figure(figsize=(7.6, 0.36 * len(names) + 1.7), layout="constrained")
    time_axes, memory_axes = figure.subplots(1, 2, sharey=True)
    positions = np.arange(len(names))
    time_axes.barh(positions, startup, color="tab:gray", label="start-up")
    totals = time_axes.barh(positions, nodes, left=startup, color="tab:blue", label="nodes")
    shown = np.where(wall > 0, wall, startup + nodes)
    time_axes.bar_label(totals, labels=[f"{s:.1f} s" for s in shown], fontsize=7, padding=2)
    time_axes.set_xlim(0, max(shown.max(), 1.0) * 1.3)  # room for the labels
    time_axes.set_xlabel("wall time (s)")
    time_axes.set_yticks(positions, names, fontsize=8)
    time_axes.invert_yaxis()  # first stage on top
    time_axes.legend(fontsize=7, loc="lower right")

    bars = memory_axes.barh(positions, memory, color=[_CHILD if child else _OWN for _, child in peaks])
    memory_axes.bar_label(bars, labels=[f"{m:,.0f} MB" if peak else "n/a" for m, (peak, _) in zip(memory, peaks)],
                          fontsize=7, padding=2)
    limit = max((machine_memory_mb(r) or 0.0 for _, r in records), default=0.0)
    right = max(memory.max(), 1.0) * 1.35
    if limit and limit < 2 * right:  # the machine's memory only where it does not squash the bars
        memory_axes.axvline(limit, color="tab:red", linestyle="--", linewidth=1)
        memory_axes.text(limit, -0.6, f"machine {limit / 1024:.1f} GiB ", color="tab:red", fontsize=7, ha="right",
                         va="bottom")
        right = max(right, limit * 1.05)
    memory_axes.set_xlim(0, right)
    memory_axes.set_xlabel("peak RSS (MB)")
    memory_axes.legend(handles=[Patch(color=_OWN, label="stage process"), Patch(color=_CHILD, label="child process")],
                       fontsize=7, loc="lower right")
    for axes in (time_axes, memory_axes):
        axes.grid(axis="x", alpha=0.3)
        axes.set_axisbelow(True)
    figure.suptitle("Time and peak memory per stage")
    return figure


def _has_values(curve: pd.DataFrame, column: str) -> bool:
    return column in curve and pd.to_numeric(curve[column], errors="coerce").notna().any()


def draw_training_resources(train_resources: pd.DataFrame | None) -> Figure | None:
    """Tokens/s, RSS and (on CUDA) GPU memory by step, one line per rank."""
    if not isinstance(train_resources, pd.DataFrame) or "step" not in train_resources:
        return None
    curve = train_resources.sort_values("step")
    panels = [(column, label) for column, label in (("tokens_per_second", "tokens / s"), ("rss_mb", "RSS (MB)"))
              if _has_values(curve, column)]
    gpu = [entry for entry in _GPU_CURVES if _has_values(curve, entry[0])]
    if gpu:
        panels.append(("gpu", "GPU memory (MB)"))
    if not panels:
        return None
    ranks = sorted(curve["rank"].dropna().unique()) if "rank" in curve else []
    per_rank = [(f"rank {int(rank)}", curve[curve["rank"] == rank]) for rank in ranks] or [("", curve)]
    figure = Figure(figsize=(6.4, 1.9 * len(panels) + 0.7), layout="constrained")
    all_axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for axes, (column, label) in zip(all_axes, panels):
        for index, (rank, rows) in enumerate(per_rank):
            if column != "gpu":
                axes.plot(rows["step"], rows[column], color=f"C{index}", marker="o", markersize=2, label=rank or None)
                continue
            for gpu_column, kind, style in gpu:
                axes.plot(rows["step"], rows[gpu_column], color=f"C{index}", linestyle=style,
                          label=f"{kind} {rank}".strip())
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        if len(per_rank) > 1 or column == "gpu":
            axes.legend(fontsize=7, loc="best")
    all_axes[-1].set_xlabel("step")
    figure.suptitle("Training throughput and memory by step")
    return figure


def plot_stage_resources(stage_resources: dict[str, Any] | None) -> bytes | None:
    figure = draw_stage_resources(stage_resources)
    return to_png(figure) if figure is not None else None


def plot_training_resources(train_resources: pd.DataFrame | None) -> bytes | None:
    figure = draw_training_resources(train_resources)
    return to_png(figure) if figure is not None else None
