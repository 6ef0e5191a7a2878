"""Report node: what was trained on what, how it scored and shipped, written once as Markdown.

Pure functions over the metrics other stages wrote; the catalog reads and writes every file. Every
input but the params is read tolerantly: what a run did not produce is a skipped section.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import yaml

from slmops.config import RUNTIME_KEYS, Params, validate_params
from slmops.pipelines.report import plots, resource_plots
from slmops.pipelines.report.advice import headline_metric, what_to_try_next
from slmops.pipelines.report.lineage import dvc_hash, lineage_artifacts, lineage_context
from slmops.pipelines.report.markdown import Code, fmt_count, fmt_interval, fmt_score, render_html, render_markdown
from slmops.pipelines.report.resources import resource_advice, resources_context
from slmops.pipelines.report.tables import (
    MODEL_NAMES,
    has_grid,
    key_value_table,
    label_balance_table,
    metric_name,
    model_names,
    models_of,
    per_class_table,
    quality_table,
    samples_table,
    targets_table,
)

__all__ = ["dvc_hash", "lineage_artifacts", "render_report", "report_context"]


# Figure file names the template refers to.
FIGURES = {"loss": plots.LOSS_CURVE, "quality": plots.QUALITY, "confusion": plots.CONFUSION_MATRIX,
           "speed": plots.DECODE_SPEED, "lengths": plots.LENGTHS, "stages": resource_plots.STAGE_RESOURCES,
           "training_resources": resource_plots.TRAINING_RESOURCES}


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _trainable_share(train_metrics: dict[str, Any]) -> str:
    trainable, total = train_metrics.get("trainable_parameters"), train_metrics.get("total_parameters")
    if not trainable or not total:
        return fmt_count(trainable)
    return f"{fmt_count(trainable)} of {fmt_count(total)} ({100 * trainable / total:.2f}%)"


def data_context(params: Params, split_summary: dict[str, Any], train_metrics: dict[str, Any],
                 eval_metrics: dict[str, Any]) -> dict[str, Any]:
    template, data = params.template, params.data
    model = params.base_model.name_or_path + (f"@{params.base_model.revision}" if params.base_model.revision else "")
    task = eval_metrics.get("task") or "unknown"
    chosen = ("set by `evaluate.task`" if params.evaluate.task != "auto" else
              "picked from the data: every row has a label" if task == "classification" else
              "picked from the data: no label field")
    rows = " · ".join(f"{split} {fmt_count(split_summary.get(split))}" for split in ("train", "validation", "test"))
    inputs = key_value_table("Input", [
        ("Base model", Code(model)), ("Data source", Code(data.source)),
        ("Data format", data.format + (f", split {data.hf_split}" if data.hf_split else "")),
        ("Rows per split", rows), ("Template: system", template.system or "(none)"),
        ("Template: prompt", Code(template.prompt)), ("Template: completion", Code(template.completion)),
        ("Label field", Code(template.label_field) if template.label_field else "(none: free-text task)"),
        ("Chat template", "yes" if template.use_chat_template else "no"),
    ])
    truncated = train_metrics.get("truncated_rows")
    return {"task": task, "task_chosen": chosen, "inputs": inputs, "labels": label_balance_table(split_summary),
            "truncated_rows": truncated if isinstance(truncated, int) else None,
            "max_length": params.train.max_length}


def training_context(params: Params, train_metrics: dict[str, Any]) -> dict[str, Any]:
    train = params.train
    settings: list[tuple[str, Any]] = [
        ("Method", train_metrics.get("method", train.method)),
        ("Epochs / steps", f"{train.epochs:g} / {fmt_count(train_metrics.get('steps'))}"),
        ("Learning rate", f"{train.learning_rate:g} ({train.lr_scheduler}, warmup {train.warmup_ratio:g})"),
        ("Batch size", f"{train.batch_size} × {train.gradient_accumulation_steps} accumulation"),
        ("Max length", f"{train.max_length} tokens"), ("Seed", str(train.seed)),
    ]
    if train.method != "full":
        lora = train.lora
        modules = lora.target_modules if isinstance(lora.target_modules, str) else ", ".join(lora.target_modules)
        settings.append(("LoRA", f"r {lora.r}, alpha {lora.alpha}, dropout {lora.dropout:g}, modules {modules}"))
    aware = train.quantization_aware
    settings.append(("Quantization-aware", f"int{aware.bits}, block {aware.block_size}" if aware else "no"))
    settings += [
        ("Trainable parameters", _trainable_share(train_metrics)),
        ("Training time", f"{fmt_score(train_metrics.get('train_seconds'), 1)} s"),
        ("Throughput", f"{fmt_score(train_metrics.get('tokens_per_second'), 1)} tokens/s"),
        ("Final training loss", fmt_score(train_metrics.get("final_loss"))),
    ]
    return {"table": key_value_table("Training", settings)}


def quality_context(eval_metrics: dict[str, Any], exports: dict[str, dict[str, Any]], params: Params,
                    samples: list[dict[str, Any]]) -> dict[str, Any]:
    bootstrap = eval_metrics.get("bootstrap") or {}
    generation = eval_metrics.get("generation") or {}
    methods = [(metric_name(k, eval_metrics.get("task")), text) for k, text in (eval_metrics.get("methods") or {}).items()]
    return {
        "rows": eval_metrics.get("rows"), "table": quality_table(eval_metrics, exports) if models_of(eval_metrics) else None,
        "resamples": bootstrap.get("resamples"), "seed": bootstrap.get("seed"), "methods": methods,
        "decoding": "sampling" if generation.get("do_sample") else "greedy",
        "max_new_tokens": generation.get("max_new_tokens", params.evaluate.max_new_tokens),
        "answer_pattern": eval_metrics.get("answer_pattern"),
        "per_class": per_class_table(eval_metrics),
        "samples": samples_table(samples, list(MODEL_NAMES), model_names(eval_metrics)),
        "has_label_list_run": "base_with_label_list" in eval_metrics,
        "grid": _grid(eval_metrics) if has_grid(eval_metrics) else None,
    }


def _grid(eval_metrics: dict[str, Any]) -> dict[str, Any]:
    grid = eval_metrics.get("grid") or {}
    return {"bits": grid.get("bits", 4), "block_size": grid.get("block_size"), "target": grid.get("target")}


def _decomposition(eval_metrics: dict[str, Any], key: str, name: str) -> str:
    """Which part moved: what fine-tuning gained on the grid, what the grid cost the base."""
    gained = (eval_metrics.get("delta_tuning") or {}).get(key)
    grid_cost = (eval_metrics.get("delta_grid") or {}).get(key)
    if not isinstance(gained, int | float) or not isinstance(grid_cost, int | float):
        return ""
    bits = (eval_metrics.get("grid") or {}).get("bits", 4)
    interval = fmt_interval(((eval_metrics.get("intervals") or {}).get("delta_tuning") or {}).get(key))
    moved = f"gained {gained:+.3f} {name}" if gained >= 0 else f"changed {name} by {gained:+.3f}"
    text = f" Fine-tuning {moved} on the int{bits} grid" + (f" (95% interval {interval})" if interval else "")
    return text + (f"; the grid cost the base {grid_cost:+.3f}." if grid_cost < 0 else
                   f"; the grid moved the base by {grid_cost:+.3f}.")


def _summary(params: Params, train_metrics: dict[str, Any], eval_metrics: dict[str, Any],
             exports: dict[str, dict[str, Any]]) -> str:
    key = headline_metric(eval_metrics)
    name = metric_name(key, eval_metrics.get("task"))
    base, tuned = eval_metrics.get("base") or {}, eval_metrics.get("tuned") or {}
    text = (f"{params.base_model.name_or_path} was fine-tuned with {train_metrics.get('method', params.train.method)} "
            f"on {fmt_count(train_metrics.get('train_rows'))} rows. On {fmt_count(eval_metrics.get('rows'))} "
            f"validation rows its {name} went from {fmt_score(base.get(key))} to {fmt_score(tuned.get(key))}.")
    text += _decomposition(eval_metrics, key, name)
    for target, metrics in exports.items():
        scores, decode = metrics.get("onnx") or {}, metrics.get("decode") or {}
        text += f" {target}: {name} {fmt_score(scores.get(key))}"
        if isinstance(decode.get("speedup"), int | float):
            text += f", decoding {decode['speedup']:.1f}× as fast as PyTorch fp32"
        text += "."
    return text


def report_context(parameters: dict[str, Any], train_metrics: dict[str, Any], split_summary: dict[str, Any],
                   eval_metrics: dict[str, Any], eval_details: dict[str, Any], eval_samples: dict[str, Any],
                   all_export_metrics: dict[str, Any], dvc_lock: dict[str, Any], code_revision: dict[str, Any],
                   report_plots: dict[str, bytes], validation_loss_history: pd.DataFrame | None = None,
                   merged_model_lineage: dict[str, Any] | None = None, stage_resources: dict[str, Any] | None = None,
                   train_resources: pd.DataFrame | None = None) -> dict[str, Any]:
    params = validate_params(parameters)
    train_metrics, split_summary = train_metrics or {}, split_summary or {}
    eval_metrics, exports = {**(eval_metrics or {}), **(eval_details or {})}, all_export_metrics or {}
    sections = {key: value for key, value in parameters.items() if key not in RUNTIME_KEYS}
    first = next(iter(exports.values()), {}).get("decode") or {}
    text = yaml.safe_dump(sections, sort_keys=False, allow_unicode=True, width=100)
    return {
        "title": params.report.title, "figures": set(report_plots),
        "summary": _summary(params, train_metrics, eval_metrics, exports),
        "data": data_context(params, split_summary, train_metrics, eval_metrics),
        "training": training_context(params, train_metrics),
        "quality": quality_context(eval_metrics, exports, params, (eval_samples or {}).get("samples") or []),
        "targets": {"table": targets_table(exports), "prompts": first.get("prompts"),
                    "new_tokens": first.get("new_tokens")},
        "lineage": lineage_context(code_revision or {}, dvc_lock or {}, merged_model_lineage),
        "resources": resources_context(stage_resources, train_resources, train_metrics),
        "advice": what_to_try_next(params, eval_metrics, train_metrics, split_summary, exports,
                                   validation_loss_history) + resource_advice(params, stage_resources, train_metrics),
        "parameters": text, "parameters_fence": "`" * max(3, _longest_backtick_run(text) + 1), "fig": FIGURES,
    }


def render_report(parameters: dict[str, Any], train_metrics: dict[str, Any], split_summary: dict[str, Any],
                  eval_metrics: dict[str, Any], eval_details: dict[str, Any], eval_samples: dict[str, Any],
                  all_export_metrics: dict[str, Any], dvc_lock: dict[str, Any], code_revision: dict[str, Any],
                  report_plots: dict[str, bytes], validation_loss_history: pd.DataFrame | None = None,
                  merged_model_lineage: dict[str, Any] | None = None, stage_resources: dict[str, Any] | None = None,
                  train_resources: pd.DataFrame | None = None) -> tuple[str, str]:
    """The report as Markdown (figures linked from figures/) and as one self-contained HTML page."""
    context = report_context(parameters, train_metrics, split_summary, eval_metrics, eval_details, eval_samples,
                             all_export_metrics, dvc_lock, code_revision, report_plots, validation_loss_history,
                             merged_model_lineage, stage_resources, train_resources)
    markdown = render_markdown(context)
    return markdown, render_html(markdown, context["title"], report_plots)

