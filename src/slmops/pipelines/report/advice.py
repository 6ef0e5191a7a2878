"""A short "what to try next", each point grounded in a number of this run.

Thresholds are rules of thumb, stated in the text so a reader can judge them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from slmops.config import Params
from slmops.pipelines.report.markdown import md
from slmops.pipelines.report.tables import metric_name

GOOD_ENOUGH = {"f1": 0.9, "exact_match": 0.5, "rougeL": 0.35}
GRID_COST_LIMIT = 0.02  # a grid costing the headline score more than this is worth another target or block


def headline_metric(eval_metrics: dict[str, Any]) -> str:
    """The one number a reader looks at first: macro-F1, exact match on extracted answers, or ROUGE-L."""
    if eval_metrics.get("task") == "classification":
        return "f1"
    return "exact_match" if eval_metrics.get("answer_pattern") else "rougeL"


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def _loss_advice(params: Params, train_metrics: dict[str, Any], validation: pd.DataFrame | None) -> list[str]:
    train = params.train
    if validation is not None and "validation_loss" in validation and validation["validation_loss"].notna().sum() >= 2:
        losses = validation.dropna(subset=["validation_loss"])
        best = losses.loc[losses["validation_loss"].idxmin()]
        last = losses.iloc[-1]
        if last["validation_loss"] > 1.1 * best["validation_loss"]:
            return [f"Validation loss rose from {best['validation_loss']:.3f} (step {int(best['step'])}) to "
                    f"{last['validation_loss']:.3f} (step {int(last['step'])}): the model overfits. Train fewer "
                    f"epochs (`train.epochs` is {train.epochs:g}) or on more rows."]
    final = train_metrics.get("final_loss")
    if isinstance(final, int | float) and final > 0.5:
        return [f"Training loss ended at {final:.3f}: the model has not fit the data yet. Train more epochs "
                f"(`train.epochs` is {train.epochs:g}), raise `train.learning_rate` ({train.learning_rate:g}) or "
                f"the LoRA rank (`train.lora.r` is {train.lora.r})."]
    return []


def _classification_advice(eval_metrics: dict[str, Any], tuned: dict[str, Any]) -> list[str]:
    advice = []
    unknown = tuned.get("unknown_label_share")
    if isinstance(unknown, int | float) and unknown > 0.02:
        advice.append(f"{_pct(unknown)} of the fine-tuned answers are not a known label: train longer, or name the "
                      "labels in `template.system`.")
    per_class = (eval_metrics.get("per_class") or {}).get("tuned") or {}
    weak = sorted((scores.get("f1", 0.0), label, scores.get("support", 0)) for label, scores in per_class.items()
                  if scores.get("f1", 1.0) < 0.8)[:3]
    if weak:
        listed = ", ".join(f"{md(label)} (F1 {f1:.2f}, {support} rows)" for f1, label, support in weak)
        advice.append(f"Weakest labels: {listed}. Add training rows for them or make their descriptions distinct; "
                      "the confusion matrix shows which labels they are mistaken for.")
    listed_base = (eval_metrics.get("base_with_label_list") or {}).get("f1")
    if isinstance(listed_base, int | float) and tuned.get("f1", 0.0) - listed_base < 0.05:
        advice.append(f"The base model with the labels in its prompt scores {listed_base:.3f}, about as well as the "
                      "fine-tuned model: fine-tuning adds little here; try a larger rank or more rows.")
    return advice


def _generation_advice(params: Params, tuned: dict[str, Any]) -> list[str]:
    advice = []
    evaluate = params.evaluate
    repetitive = tuned.get("repetition_share")
    if isinstance(repetitive, int | float) and repetitive > 0.1:
        advice.append(f"{_pct(repetitive)} of the fine-tuned answers loop (a 4-word sequence 3 times or more): set "
                      "`evaluate.generation.repetition_penalty` to about 1.2 or `no_repeat_ngram_size` to 3, and "
                      "check that the completions end with the end-of-turn token.")
    truncated = tuned.get("truncated_share")
    if isinstance(truncated, int | float) and truncated > 0.1:
        advice.append(f"{_pct(truncated)} of the fine-tuned answers were cut off at `evaluate.max_new_tokens` "
                      f"({evaluate.max_new_tokens}): raise it, or the scores understate complete answers.")
    found = tuned.get("answer_found_share")
    if isinstance(found, int | float) and found < 0.8:
        advice.append(f"`evaluate.answer_pattern` finds an answer in only {_pct(found)} of the fine-tuned answers: "
                      "train longer so it learns the final-answer form, or check the pattern.")
    return advice


def _includes_zero(interval: Any) -> bool:
    return isinstance(interval, list) and len(interval) == 2 and interval[0] <= 0 <= interval[1]


def _grid_advice(params: Params, eval_metrics: dict[str, Any], key: str) -> list[str]:
    """The quantization grid cost the base more than fine-tuning gained back, or more than GRID_COST_LIMIT."""
    grid_cost = (eval_metrics.get("delta_grid") or {}).get(key)
    gained = (eval_metrics.get("delta_tuning") or {}).get(key)
    if not isinstance(grid_cost, int | float) or not isinstance(gained, int | float) or grid_cost >= 0:
        return []
    if abs(grid_cost) <= abs(gained) and grid_cost >= -GRID_COST_LIMIT:
        return []
    aware = params.train.quantization_aware
    grid = eval_metrics.get("grid") or {}
    bits = grid.get("bits", aware.bits if aware else 4)
    block = grid.get("block_size", aware.block_size if aware else "?")
    target = grid.get("target", aware.target if aware else "?")
    options = []
    if target == "merged" and params.train.method == "lora":
        options.append(f"`train.quantization_aware.target: base` (now `merged`; the adapter kept apart from the "
                       f"int{bits} base, in full precision)")
    if isinstance(block, int) and block > 16:
        options.append(f"a smaller `train.quantization_aware.block_size` (now {block}; finer scales round less, "
                       "at a slightly larger model)")
    options.append("an int8 target (`cpu-int8` in `export.targets`)")
    name = metric_name(key, eval_metrics.get("task"))
    return [f"The int{bits} grid cost the base model {grid_cost:+.3f} {name}, against {gained:+.3f} that fine-tuning "
            f"gained on it (advice when the cost is larger than the gain or beyond {GRID_COST_LIMIT:.2f}): try "
            + ", ".join(options[:-1]) + (" or " if len(options) > 1 else "") + options[-1] + "."]


def what_to_try_next(params: Params, eval_metrics: dict[str, Any], train_metrics: dict[str, Any],
                     split_summary: dict[str, Any], exports: dict[str, dict[str, Any]],
                     validation: pd.DataFrame | None) -> list[str]:
    tuned = eval_metrics.get("tuned") or {}
    key = headline_metric(eval_metrics)
    value = tuned.get(key)
    advice: list[str] = []
    poor = isinstance(value, int | float) and value < GOOD_ENOUGH[key]
    if poor:
        advice += _loss_advice(params, train_metrics, validation)
        rows = split_summary.get("train")
        if isinstance(rows, int) and rows < 1000:
            advice.append(f"Only {rows} training rows: more rows usually help most.")
    if eval_metrics.get("task") == "classification":
        advice += _classification_advice(eval_metrics, tuned) if poor else []
    else:
        advice += _generation_advice(params, tuned)
    advice += _grid_advice(params, eval_metrics, key)
    intervals = eval_metrics.get("intervals") or {}
    tuning = (intervals.get("delta_tuning") or {}).get(key)
    interval = (intervals.get("delta") or {}).get(key)
    if _includes_zero(tuning):
        advice.append(f"The 95% interval of what fine-tuning gained on the grid ({tuning[0]:+.3f} to {tuning[1]:+.3f}) "
                      f"includes zero: the gain cannot be told from noise. Train on more rows or more epochs "
                      f"(`train.epochs` is {params.train.epochs:g}), and score more validation rows.")
    elif tuning is None and _includes_zero(interval):
        advice.append(f"The 95% interval of the gain over the base model ({interval[0]:+.3f} to {interval[1]:+.3f}) "
                      "includes zero: with these rows a gain cannot be told from noise; score more validation rows.")
    for name, metrics in exports.items():
        loss = (metrics.get("delta") or {}).get(key)
        if isinstance(loss, int | float) and loss < -0.02:
            advice.append(f"`{name}` scores {abs(loss):.3f} lower than PyTorch: keep `train.quantization_aware` on "
                          "for int4 targets, or ship a higher-precision target.")
    return advice
