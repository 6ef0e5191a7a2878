"""Measure an exported ONNX model: size, load time, speed and memory, quality and greedy agreement with PyTorch.

A target whose execution provider this machine lacks is checked structurally and its metrics say it was
not run here and why; no number is made up for it.
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path
from typing import Any

from slmops.config import EvaluateParams, ExportParams, parse
from slmops.lineage import markdown
from slmops.metrics import delta, evaluation_rows, references_of, score_predictions, task_spec
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.genai import GenaiModel, intra_op_threads, load_genai_model
from slmops.modeling.model_card import render_model_card
from slmops.modeling.onnx_quality import check_quality_gate, greedy_agreement
from slmops.modeling.onnx_targets import check_structure, target_options

OWN_ADAPTER = "tuned"


def folder_size_mb(folder: Path, pattern: str = "*") -> float:
    return round(sum(p.stat().st_size for p in Path(folder).rglob(pattern) if p.is_file()) / 1e6, 2)


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kilobytes on Linux


def onnx_decode_speed(onnx: GenaiModel, prompts: list[str], new_tokens: int,
                      without_adapter: GenaiModel | None = None) -> dict[str, dict[str, float]]:
    """Decode speed of the target (and of its base without the adapter, when separate).

    One short untimed run each first, so no engine's one-off start-up is counted as decoding. The
    PyTorch baseline on the same prompts was measured once by the `evaluate` stage of this run.
    """
    engines = {"onnx": onnx.measure_decode_speed}
    if without_adapter is not None:
        engines["without_adapter"] = without_adapter.measure_decode_speed
    for measure in engines.values():
        measure(prompts[:1], 4)
    return {name: measure(prompts, new_tokens) for name, measure in engines.items()}


def _not_run(base: dict[str, Any], reason: str) -> dict[str, Any]:
    # No quality, speed or memory keys at all: nothing was measured, and readers must not mistake a null for one.
    return {**base, "ran": False, "not_run_reason": reason}


def measure_onnx_model(onnx_model: Path, merged_model: ModelBundle, validation_examples: list[dict[str, Any]],
                       predictions: list[dict[str, Any]], evaluate_params: dict[str, Any],
                       export_params: dict[str, Any], eval_metrics: dict[str, Any],
                       export_target: str | None, merged_model_lineage: dict[str, Any] | None = None
                       ) -> tuple[dict[str, Any], str]:
    """Return the target's metrics and its complete model card."""
    export: ExportParams = parse(ExportParams, export_params, "export")
    options = target_options(export, export_target)
    params: EvaluateParams = parse(EvaluateParams, evaluate_params, "evaluate")
    separate = (Path(onnx_model) / "adapters").is_dir()
    base = {"target": export_target, "precision": options.precision, "execution_provider": options.execution_provider,
            "adapters": "separate" if separate else "merged", "size_mb": folder_size_mb(onnx_model),
            "structure": check_structure(onnx_model, options)}
    if separate:
        base["adapter_size_mb"] = folder_size_mb(Path(onnx_model) / "adapters", "*.onnx_adapter")
    card_info = json.loads((Path(onnx_model) / "model_card.json").read_text(encoding="utf-8"))

    # The ONNX folder's own record is written after this node; the merged model's chain is what it was built from.
    chain = markdown(merged_model_lineage) if merged_model_lineage else None
    rss_before = _rss_mb()
    started = time.perf_counter()
    model, reason = load_genai_model(onnx_model, options, export.runtime)
    if model is None:
        metrics = _not_run(base, reason)
        return metrics, render_model_card(export_target, options, card_info["identity"], card_info["adapters"], metrics,
                             chain)
    load_seconds = time.perf_counter() - started
    onnx = GenaiModel(onnx_model, merged_model.tokenizer, model=model, adapter=OWN_ADAPTER if separate else None)

    # The same rows, task and generation settings as the `evaluate` stage scored PyTorch on.
    rows = evaluation_rows(validation_examples, params.max_rows)
    spec = task_spec(rows, params.task, params.answer_pattern, params.generation.stop_strings)
    started = time.perf_counter()
    answers = onnx.answer([e["prompt"] for e in rows], params.max_new_tokens, settings=params.generation)
    scores = score_predictions([text for text, _ in answers], references_of(rows), spec,
                               truncated=[cut for _, cut in answers], resamples=params.bootstrap_resamples,
                               seed=params.bootstrap_seed)
    onnx_scores = {**scores.metrics, "seconds": round(time.perf_counter() - started, 2)}
    agreement, agreement_rows = greedy_agreement(rows, scores.answers, predictions)
    pytorch_scores = {k: v for k, v in eval_metrics["tuned"].items() if k != "perplexity"}

    speed_prompts = [e["prompt"] for e in rows[: export.speed.prompt_count]]
    plain = GenaiModel(onnx_model, merged_model.tokenizer, model=model) if separate else None
    speed = onnx_decode_speed(onnx, speed_prompts, export.speed.new_tokens, without_adapter=plain)
    onnx_speed, pytorch_speed = speed["onnx"], eval_metrics["decode"]
    peak_memory_mb = round(max(_peak_rss_mb(), _rss_mb()) - rss_before, 1)
    decode = {
        "prompts": len(speed_prompts),
        "new_tokens": export.speed.new_tokens,
        "onnx_tokens_per_second": round(onnx_speed["tokens_per_second"], 1),
        "pytorch_tokens_per_second": pytorch_speed["tokens_per_second"],
        "speedup": round(onnx_speed["tokens_per_second"] / pytorch_speed["tokens_per_second"], 2),
        "onnx_first_token_ms": round(onnx_speed["first_token_ms"], 1),
        "pytorch_first_token_ms": pytorch_speed["first_token_ms"],
    }
    if "without_adapter" in speed:
        decode["without_adapter"] = {"tokens_per_second": round(speed["without_adapter"]["tokens_per_second"], 1),
                                     "first_token_ms": round(speed["without_adapter"]["first_token_ms"], 1)}
    quality = {"onnx": onnx_scores, "pytorch": pytorch_scores, "delta": delta(onnx_scores, pytorch_scores)}
    # The session setting every figure here was measured with (a load-time choice, not part of the model folder).
    runtime = {"threads": export.runtime.threads, "intra_op_num_threads": intra_op_threads(export.runtime.threads),
               "spinning": export.runtime.spinning}
    metrics = {**base, "ran": True, "runtime": runtime, "rows": len(rows), "load_seconds": round(load_seconds, 3),
               "peak_memory_mb": peak_memory_mb, "quality": quality, "intervals": {"onnx": scores.intervals}, "greedy_agreement": agreement,
               "greedy_agreement_rows": agreement_rows, "max_quality_drop": export.max_quality_drop,
               # Kept for readers of the earlier layout (the report): same values as under `quality`.
               "onnx": onnx_scores, "pytorch": pytorch_scores, "delta": quality["delta"], "decode": decode}
    return metrics, render_model_card(export_target, options, card_info["identity"], card_info["adapters"], metrics,
                             chain)


def gate_quality(export_metrics: dict[str, Any], export_params: dict[str, Any]) -> None:
    """Fail the stage (after its metrics are written) when the target lost more quality than allowed."""
    check_quality_gate(export_metrics, parse(ExportParams, export_params, "export").max_quality_drop)
