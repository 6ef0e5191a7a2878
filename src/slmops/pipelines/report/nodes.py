"""Report nodes: draw the figures, then say what was trained on what, how it scored and shipped.

Pure functions over the metrics other stages wrote; the catalog reads and writes every file.
"""

from __future__ import annotations

from typing import Any

import yaml

from slmops.config import RUNTIME_KEYS, Params, validate_params
from slmops.pipelines.report import plots
from slmops.pipelines.report.render import (
    Block,
    Code,
    CodeBlock,
    Document,
    Figure,
    Heading,
    Paragraph,
    Table,
    format_bytes,
    format_count,
    format_delta,
    format_perplexity,
    format_score,
    format_speed,
    render_html,
    render_markdown,
    truncate,
)

SAMPLE_CELL_CHARS = 120  # the base model rambles; the table has to stay readable
REPORT_STAGE = "report"  # its own outs in dvc.lock describe the previous report, not this one's inputs
METRIC_NAMES = {"f1": "F1", "exact_match": "Exact match", "rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L"}


def render_report(
    parameters: dict[str, Any],
    train_metrics: dict[str, Any],
    split_summary: dict[str, Any],
    eval_metrics: dict[str, Any],
    eval_samples: dict[str, Any],
    all_export_metrics: dict[str, dict[str, Any]],
    dvc_lock: dict[str, Any],
    code_revision: dict[str, Any],
    report_plots: dict[str, bytes],
) -> tuple[str, str]:
    """The report as Markdown (figures linked from figures/) and as one self-contained HTML file."""
    params = validate_params(parameters)
    exports = all_export_metrics or {}
    document = Document(title=params.report.title)
    document.blocks += [Paragraph((summarize_run(params, train_metrics, eval_metrics, exports),))]
    document.blocks += describe_training(params, split_summary, train_metrics)
    document.blocks += describe_scores(eval_metrics, eval_samples.get("samples", []))
    document.blocks += describe_targets(exports)
    document.blocks += describe_lineage(code_revision, dvc_lock or {})
    document.blocks += describe_parameters(parameters)
    return render_markdown(document, report_plots), render_html(document, report_plots)


def _f1_name(eval_metrics: dict[str, Any]) -> str:
    return "macro-F1" if plots.is_classification(eval_metrics) else "token F1"


def summarize_run(
    params: Params, train_metrics: dict[str, Any], eval_metrics: dict[str, Any], exports: dict[str, dict[str, Any]]
) -> str:
    base, tuned = eval_metrics.get("base", {}), eval_metrics.get("tuned", {})
    text = (
        f"{params.base_model.name_or_path} was fine-tuned with {train_metrics.get('method', params.train.method)} "
        f"on {format_count(train_metrics.get('train_rows'))} rows. On {format_count(eval_metrics.get('rows'))} "
        f"validation rows its {_f1_name(eval_metrics)} went from {format_score(base.get('f1'))} to "
        f"{format_score(tuned.get('f1'))}."
    )
    if not exports:
        return text + " No ONNX target has been exported and measured yet."
    for name, metrics in exports.items():
        decode = metrics.get("decode") or {}
        text += (
            f" {name}: F1 {format_score(metrics.get('onnx', {}).get('f1'))} "
            f"({format_delta(metrics.get('delta', {}).get('f1'))} vs PyTorch), decoding "
            f"{format_speed(decode.get('speedup'))}× as fast as PyTorch fp32 "
            f"({format_speed(decode.get('onnx_tokens_per_second'))} vs "
            f"{format_speed(decode.get('pytorch_tokens_per_second'))} tokens/s)."
        )
    return text


def _trainable_share(train_metrics: dict[str, Any]) -> str:
    trainable, total = train_metrics.get("trainable_parameters"), train_metrics.get("total_parameters")
    if not trainable or not total:
        return format_count(trainable)
    return f"{format_count(trainable)} of {format_count(total)} ({100 * trainable / total:.2f}%)"


def describe_training(params: Params, split_summary: dict[str, Any], train_metrics: dict[str, Any]) -> list[Block]:
    template, train = params.template, params.train
    model = Code(params.base_model.name_or_path + (f"@{params.base_model.revision}" if params.base_model.revision else ""))
    rows = " · ".join(f"{split} {format_count(split_summary.get(split))}" for split in ("train", "validation", "test"))
    inputs = Table(("Input", "Value"), (
        ("Base model", model),
        ("Data source", Code(params.data.source)),
        ("Data format", params.data.format + (f", split {params.data.hf_split}" if params.data.hf_split else "")),
        ("Rows per split", rows),
        ("Template: system", template.system or "(none)"),
        ("Template: prompt", Code(template.prompt)),
        ("Template: completion", Code(template.completion)),
        ("Label field", Code(template.label_field) if template.label_field else "(none: free-text task)"),
        ("Chat template", "yes" if template.use_chat_template else "no"),
    ))
    settings: list[tuple[str, str | Code]] = [
        ("Method", train_metrics.get("method", train.method)),
        ("Epochs / steps", f"{train.epochs:g} / {format_count(train_metrics.get('steps'))}"),
        ("Learning rate", f"{train.learning_rate:g} ({train.lr_scheduler}, warmup {train.warmup_ratio:g})"),
        ("Batch size", f"{train.batch_size} × {train.gradient_accumulation_steps} accumulation"),
        ("Max length", f"{train.max_length} tokens"),
        ("Seed", str(train.seed)),
    ]
    if train.method != "full":
        lora = train.lora
        targets = lora.target_modules if isinstance(lora.target_modules, str) else ", ".join(lora.target_modules)
        settings.append(("LoRA", f"r {lora.r}, alpha {lora.alpha}, dropout {lora.dropout:g}, modules {targets}"))
    aware = train.quantization_aware
    settings.append(("Quantization-aware", f"int{aware.bits}, block {aware.block_size} (the tuned model holds the "
                                           "int4 target's weights)" if aware else "no (plain fp32 training)"))
    settings += [
        ("Trainable parameters", _trainable_share(train_metrics)),
        ("Training time", f"{format_speed(train_metrics.get('train_seconds'))} s"),
        ("Throughput", f"{format_speed(train_metrics.get('tokens_per_second'))} tokens/s"),
        ("Final loss", format_score(train_metrics.get("final_loss"))),
    ]
    blocks: list[Block] = [Heading("What was trained on what"), inputs, Table(("Training", "Value"), tuple(settings))]
    labels = split_summary.get("labels") or {}
    if any(labels.values()):
        names = sorted({label for counts in labels.values() for label in counts})
        splits = [split for split in ("train", "validation", "test") if labels.get(split)]
        counts = tuple((name, *(format_count(labels[s].get(name, 0)) for s in splits)) for name in names)
        blocks.append(Table(("Label", *splits), counts, align="l" + "r" * len(splits)))
    blocks.append(Figure(plots.LOSS_CURVE, "Training loss and learning rate by step"))
    return blocks


def _score_rows(eval_metrics: dict[str, Any]) -> tuple[tuple[str, ...], ...]:
    base, tuned, delta = (eval_metrics.get(key, {}) for key in ("base", "tuned", "delta"))
    f1_name = _f1_name(eval_metrics)
    names = {**METRIC_NAMES, "f1": f1_name[0].upper() + f1_name[1:]}
    rows = [(names[m], format_score(base.get(m)), format_score(tuned.get(m)), format_delta(delta.get(m))) for m in names]
    if "perplexity" in base:  # lower is better, and unbounded: two decimals, not a score's three
        values = (base.get("perplexity"), tuned.get("perplexity"), delta.get("perplexity"))
        rows.append(("Perplexity (lower is better)", *(format_perplexity(v) for v in values[:2]),
                     format_perplexity(values[2], signed=True)))
    rows.append(("Generation time (s)", format_speed(base.get("seconds")), format_speed(tuned.get("seconds")), ""))
    return tuple(rows)


def describe_scores(eval_metrics: dict[str, Any], samples: list[dict[str, Any]]) -> list[Block]:
    blocks: list[Block] = [
        Heading("How it scored"),
        Paragraph((f"Greedy answers on {format_count(eval_metrics.get('rows'))} validation rows, base model "
                   "as shipped against the fine-tuned one. Δ is tuned minus base.",)),
        Table(("Metric", "Base", "Tuned", "Δ"), _score_rows(eval_metrics), align="lrrr"),
        Figure(plots.QUALITY, "F1, ROUGE-L and exact match: base, fine-tuned and each ONNX target"),
    ]
    if plots.is_classification(eval_metrics):
        blocks.append(Figure(plots.CONFUSION_MATRIX, "Fine-tuned model's answers against the reference labels"))
    blocks.append(Heading("Samples", level=3))
    if not samples:
        return blocks + [Paragraph(("No samples were recorded (", Code("evaluate.sample_count"), " is 0).",))]
    rows = tuple(
        tuple(truncate(str(sample.get(key, "")), SAMPLE_CELL_CHARS) for key in ("input", "reference", "base", "tuned"))
        for sample in samples
    )
    return blocks + [Table(("Input", "Reference", "Base", "Tuned"), rows)]


def describe_targets(exports: dict[str, dict[str, Any]]) -> list[Block]:
    blocks: list[Block] = [Heading("How each target performs")]
    if not exports:
        return blocks + [Paragraph(("No ONNX target has been exported yet: list targets under ", Code("export.targets"), " and run the export stages."))]
    rows = []
    for name, metrics in exports.items():
        decode = metrics.get("decode") or {}
        rows.append((
            Code(name), f"{metrics.get('precision', '?')} / {metrics.get('execution_provider', '?')}",
            format_speed(metrics.get("size_mb")), format_speed(decode.get("onnx_tokens_per_second")),
            format_speed(decode.get("pytorch_tokens_per_second")), f"{format_speed(decode.get('speedup'))}×",
            format_speed(decode.get("onnx_first_token_ms")), format_score(metrics.get("onnx", {}).get("f1")),
            format_delta(metrics.get("delta", {}).get("f1")),
        ))
    header = ("Target", "Precision / provider", "Size (MB)", "Decode tok/s", "PyTorch fp32 tok/s",
              "Speedup", "First token (ms)", "F1", "ΔF1 vs PyTorch")
    first = next(iter(exports.values())).get("decode") or {}
    note = (f"Decode speed: greedy generation of {first.get('new_tokens', '?')} new tokens for "
            f"{first.get('prompts', '?')} prompts, against the fine-tuned PyTorch model on the same machine. "
            "F1 on the same validation rows; Δ is ONNX minus PyTorch.")
    return blocks + [Table(header, tuple(rows), align="llrrrrrrr"), Paragraph((note,)),
                     Figure(plots.DECODE_SPEED, "Decode tokens per second: onnxruntime-genai against PyTorch fp32")]


def dvc_hash(entry: dict[str, Any]) -> str | None:
    """The content hash of a dvc.lock entry; DVC 3 writes `hash: md5` to name the key holding it."""
    if entry.get("md5"):
        return str(entry["md5"])
    named = entry.get("hash")
    if isinstance(named, str) and entry.get(named):
        return str(entry[named])
    return named if isinstance(named, str) and named not in {"md5", "md5-dos2unix"} else None


def _artifact_row(path: str, origin: str, entry: dict[str, Any]) -> tuple[Code, str, Code | str, str]:
    size = format_bytes(entry.get("size"))
    if entry.get("nfiles"):
        size += f" ({format_count(entry['nfiles'])} files)"
    digest = dvc_hash(entry)
    return Code(path), origin, Code(digest) if digest else "n/a", size


def lineage_artifacts(dvc_lock: dict[str, Any]) -> list[tuple[Code, str, Code | str, str]]:
    """Every stage output, plus data files that come from outside the pipeline (the raw data)."""
    stages = {name: stage for name, stage in (dvc_lock.get("stages") or {}).items() if name != REPORT_STAGE}
    produced = {out["path"] for stage in stages.values() for out in stage.get("outs") or []}
    rows, seen = [], set()
    for name, stage in stages.items():
        for dep in stage.get("deps") or []:
            if dep["path"].startswith("data/") and dep["path"] not in produced | seen:
                seen.add(dep["path"])
                rows.append(_artifact_row(dep["path"], "source data", dep))
        for out in stage.get("outs") or []:
            if out["path"] not in seen:
                seen.add(out["path"])
                rows.append(_artifact_row(out["path"], name, out))
    return rows


def describe_lineage(code_revision: dict[str, Any], dvc_lock: dict[str, Any]) -> list[Block]:
    commit = code_revision.get("commit")
    if commit:
        dirty = " with uncommitted changes" if code_revision.get("dirty") else ""
        code = Paragraph(("Code: commit ", Code(commit), f"{dirty}."))
    else:
        code = Paragraph(("Code: no git commit recorded (not run from a git checkout).",))
    artifacts = lineage_artifacts(dvc_lock)
    if not artifacts:
        return [Heading("Lineage"), code, Paragraph(("No DVC lineage recorded yet: run ", Code("dvc repro"), " to record it."))]
    return [Heading("Lineage"), code,
            Paragraph(("Data and model artifacts as recorded in ", Code("dvc.lock"), " by the last ", Code("dvc repro"), ":")),
            Table(("Artifact", "Produced by", "MD5", "Size"), tuple(artifacts), align="lllr")]


def describe_parameters(parameters: dict[str, Any]) -> list[Block]:
    sections = {key: value for key, value in parameters.items() if key not in RUNTIME_KEYS}
    text = yaml.safe_dump(sections, sort_keys=False, allow_unicode=True, width=100)
    return [Heading("Parameters"), Paragraph((Code("params.yaml"), " as this run read it:")), CodeBlock(text, "yaml")]
