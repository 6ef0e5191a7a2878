"""Measure an exported ONNX model: size, decode speed against PyTorch, and quality against PyTorch."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from slmops.config import EvaluateParams, ExportParams, parse
from slmops.metrics import score_generations
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.genai import GenaiModel
from slmops.modeling.generation import measure_decode_speed
from slmops.pipelines.evaluate.nodes import delta, evaluation_rows, references_of, task_labels
from slmops.pipelines.export.nodes import target_options


def folder_size_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e6, 2)


def compare_decode_speed(onnx: GenaiModel, pytorch: ModelBundle, prompts: list[str], new_tokens: int,
                         rounds: int = 1) -> tuple[dict[str, float], dict[str, float]]:
    """Decode speed of both engines, averaged over ``rounds`` that alternate between them.

    Same prompts, same number of new tokens, one after the other in this process: a fair comparison.
    One short untimed run each first, so neither engine's one-off start-up is counted as decoding.
    """
    onnx.measure_decode_speed(prompts[:1], 4)
    measure_decode_speed(pytorch, prompts[:1], 4)
    onnx_runs, pytorch_runs = [], []
    for _ in range(rounds):
        onnx_runs.append(onnx.measure_decode_speed(prompts, new_tokens))
        pytorch_runs.append(measure_decode_speed(pytorch, prompts, new_tokens))

    def mean(runs: list[dict[str, float]]) -> dict[str, float]:
        return {key: sum(run[key] for run in runs) / len(runs) for key in runs[0]}

    return mean(onnx_runs), mean(pytorch_runs)


def measure_onnx_model(onnx_model: Path, merged_model: ModelBundle, validation_examples: list[dict[str, Any]],
                       evaluate_params: dict[str, Any], export_params: dict[str, Any], eval_metrics: dict[str, Any],
                       export_target: str | None) -> dict[str, Any]:
    options = target_options(export_params, export_target)
    speed = parse(ExportParams, export_params, "export").speed
    params: EvaluateParams = parse(EvaluateParams, evaluate_params, "evaluate")
    rows = evaluation_rows(validation_examples, params)
    onnx = GenaiModel(onnx_model, merged_model.tokenizer)

    started = time.perf_counter()
    generations = onnx.generate([e["prompt"] for e in rows], params.max_new_tokens)
    onnx_scores = score_generations(generations, references_of(rows), task_labels(rows))
    onnx_scores["seconds"] = round(time.perf_counter() - started, 2)
    pytorch_scores = {k: v for k, v in eval_metrics["tuned"].items() if k != "perplexity"}

    speed_prompts = [e["prompt"] for e in rows[: speed.prompt_count]]
    onnx_speed, pytorch_speed = compare_decode_speed(onnx, merged_model, speed_prompts, speed.new_tokens)
    return {
        "target": export_target,
        "precision": options.precision,
        "execution_provider": options.execution_provider,
        "size_mb": folder_size_mb(onnx_model),
        "rows": len(rows),
        "onnx": onnx_scores,
        "pytorch": pytorch_scores,
        "delta": delta(onnx_scores, pytorch_scores),
        "decode": {
            "prompts": len(speed_prompts),
            "new_tokens": speed.new_tokens,
            "onnx_tokens_per_second": round(onnx_speed["tokens_per_second"], 1),
            "pytorch_tokens_per_second": round(pytorch_speed["tokens_per_second"], 1),
            "speedup": round(onnx_speed["tokens_per_second"] / pytorch_speed["tokens_per_second"], 2),
            "onnx_first_token_ms": round(onnx_speed["first_token_ms"], 1),
            "pytorch_first_token_ms": round(pytorch_speed["first_token_ms"], 1),
        },
    }
