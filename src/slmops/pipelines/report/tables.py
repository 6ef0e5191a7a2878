"""The report's tables, as Markdown, from the metrics files (each read tolerantly: missing keys show n/a)."""

from __future__ import annotations

from typing import Any

from slmops.pipelines.report.markdown import MISSING, Code, code, fmt_bytes, fmt_count, fmt_interval, fmt_score, md, table

SAMPLE_CELL_CHARS = 160  # the base model rambles; the table has to stay readable
MODEL_NAMES = {"base": "Base", "base_with_label_list": "Base, labels in prompt",
               "base_on_grid": "Base on the int4 grid", "tuned": "Fine-tuned"}
METRIC_NAMES = {
    "f1": "F1", "accuracy": "Accuracy", "macro_precision": "Macro precision", "macro_recall": "Macro recall",
    "unknown_label_share": "Answers not a label", "rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L",
    "exact_match": "Exact match", "answer_found_share": "Answer pattern found", "mean_answer_words": "Mean answer words",
    "truncated_share": "Cut off by max_new_tokens", "repetition_share": "Repetitive answers",
    "perplexity": "Perplexity",
}
LOWER_IS_BETTER = {"perplexity", "unknown_label_share", "truncated_share", "repetition_share"}
DIGITS = {"perplexity": 2, "mean_answer_words": 1}


def metric_name(key: str, task: str | None) -> str:
    if key == "f1":
        return "Macro-F1" if task == "classification" else "Token F1"
    name = METRIC_NAMES.get(key, key)
    return f"{name} (lower is better)" if key in LOWER_IS_BETTER else name


def models_of(eval_metrics: dict[str, Any]) -> list[str]:
    return [name for name in MODEL_NAMES if isinstance(eval_metrics.get(name), dict)]


def model_names(eval_metrics: dict[str, Any]) -> dict[str, str]:
    """Column names of the models, the grid's bit width as evaluate recorded it."""
    bits = (eval_metrics.get("grid") or {}).get("bits", 4)
    return {**MODEL_NAMES, "base_on_grid": f"Base on the int{bits} grid"}


def has_grid(eval_metrics: dict[str, Any]) -> bool:
    """Evaluate scored the base model on the tuned model's quantization grid too: quality splits in two."""
    return isinstance(eval_metrics.get("base_on_grid"), dict) and isinstance(eval_metrics.get("delta_tuning"), dict)


def _cell(value: Any, interval: Any, key: str, signed: bool = False) -> str:
    digits = DIGITS.get(key, 3)
    text = fmt_score(value, digits, signed)
    bounds = fmt_interval(interval, digits)
    return f"{text} {bounds}" if bounds and text != MISSING else text


def target_scores(metrics: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """An export target's scores and their intervals (``intervals.onnx`` or ``onnx_intervals``)."""
    intervals = metrics.get("intervals")
    nested = intervals.get("onnx") if isinstance(intervals, dict) else None
    return metrics.get("onnx") or {}, nested or metrics.get("onnx_intervals") or {}


def quality_table(eval_metrics: dict[str, Any], exports: dict[str, dict[str, Any]]) -> str:
    """Each metric: base, (labels-listed base,) (base on the grid,) tuned, the Δ columns, each export target;
    95% intervals. With the grid, Δ splits into fine-tuning (tuned − base on grid) and grid (on grid − base)."""
    models = models_of(eval_metrics)
    names = model_names(eval_metrics)
    intervals = eval_metrics.get("intervals") or {}
    tuned = eval_metrics.get("tuned") or {}
    keys = [k for k in METRIC_NAMES if any(k in (eval_metrics.get(m) or {}) for m in models)]
    deltas = ({"delta_tuning": "Δ fine-tuning", "delta_grid": "Δ grid"} if has_grid(eval_metrics)
              else {"delta": "Δ fine-tuned − base"})
    header = ["Metric", *(names[m] for m in models), *deltas.values(), *(code(t) for t in exports)]
    rows = []
    for key in keys:
        row = [metric_name(key, eval_metrics.get("task"))]
        row += [_cell((eval_metrics.get(m) or {}).get(key), (intervals.get(m) or {}).get(key), key) for m in models]
        for name in deltas:
            difference = (eval_metrics.get(name) or {}).get(key)
            row.append(_cell(difference, (intervals.get(name) or {}).get(key), key, signed=True) if "base" in models
                       and key in tuned else MISSING)
        for metrics in exports.values():
            scores, bounds = target_scores(metrics)
            row.append(_cell(scores.get(key), bounds.get(key), key))
        rows.append(row)
    return table(header, rows, "l" + "r" * (len(header) - 1))


def per_class_table(eval_metrics: dict[str, Any]) -> str | None:
    per_class = eval_metrics.get("per_class") or {}
    models = [m for m in models_of(eval_metrics) if per_class.get(m)]
    if not models:
        return None
    labels = list(per_class[models[-1]])
    names = model_names(eval_metrics)
    header = ["Label", "Support", *(f"{names[m]} {part}" for m in models for part in ("P", "R", "F1"))]
    rows = []
    for label in labels:
        row = [md(label), fmt_count((per_class[models[-1]].get(label) or {}).get("support"))]
        for model in models:
            scores = per_class[model].get(label) or {}
            row += [fmt_score(scores.get(part)) for part in ("precision", "recall", "f1")]
        rows.append(row)
    return table(header, rows, "lr" + "r" * 3 * len(models))


# (column header, where to look in a target's metrics, format)
TARGET_COLUMNS: list[tuple[str, tuple[str, ...], str]] = [
    ("Size (MB)", ("size_mb",), "1"),
    ("Load (s)", ("load_seconds", "load_time_seconds"), "2"),
    ("First token (ms)", ("decode.onnx_first_token_ms", "first_token_ms"), "1"),
    ("Decode tok/s", ("decode.onnx_tokens_per_second", "decode_tokens_per_second"), "1"),
    ("PyTorch fp32 tok/s", ("decode.pytorch_tokens_per_second",), "1"),
    ("Speedup", ("decode.speedup",), "x"),
    ("Peak memory (MB)", ("peak_memory_mb", "decode.peak_memory_mb"), "0"),
    ("Greedy agreement", ("greedy_agreement", "agreement.greedy"), "3"),
]


def _lookup(metrics: dict[str, Any], paths: tuple[str, ...]) -> Any:
    for path in paths:
        node: Any = metrics
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, int | float):
            return node
    return None


def targets_table(exports: dict[str, dict[str, Any]]) -> str | None:
    if not exports:
        return None
    columns = [c for c in TARGET_COLUMNS if any(_lookup(m, c[1]) is not None for m in exports.values())]
    header = ["Target", "Precision / provider", *(c[0] for c in columns)]
    rows = []
    for name, metrics in exports.items():
        row = [code(name), md(f"{metrics.get('precision', '?')} / {metrics.get('execution_provider', '?')}")]
        for _, paths, style in columns:
            value = _lookup(metrics, paths)
            row.append(MISSING if value is None else f"{value:.2f}×" if style == "x" else fmt_score(value, int(style)))
        rows.append(row)
    return table(header, rows, "ll" + "r" * len(columns))


def samples_table(samples: list[dict[str, Any]], models: list[str], names: dict[str, str] = MODEL_NAMES) -> str | None:
    if not samples:
        return None
    present = [m for m in models if any(m in s for s in samples)]
    header = ["Input", "Reference", *(names[m] for m in present)]
    rows = [[md(s.get(key, ""), SAMPLE_CELL_CHARS) for key in ("input", "reference", *present)] for s in samples]
    return table(header, rows)


def label_balance_table(split_summary: dict[str, Any]) -> str | None:
    labels = split_summary.get("labels") or {}
    splits = [s for s in ("train", "validation", "test") if labels.get(s)]
    if not splits:
        return None
    names = sorted({label for s in splits for label in labels[s]})
    rows = [[md(name), *(fmt_count(labels[s].get(name, 0)) for s in splits)] for name in names]
    return table(["Label", *splits], rows, "l" + "r" * len(splits))


def key_value_table(title: str, pairs: list[tuple[str, Any]]) -> str:
    return table([title, "Value"], [[name, md(value) if not isinstance(value, Code) else code(value)]
                                    for name, value in pairs])


def describe_bytes(size: Any, files: Any) -> str:
    text = fmt_bytes(size)
    return text + (f" ({fmt_count(files)} files)" if files else "")
