"""Score the base and the fine-tuned model side by side on the validation rows, with 95% intervals."""

from __future__ import annotations

import time
from typing import Any

from slmops.config import EvaluateParams, QuantizationAwareParams, parse
from slmops.config.export import SpeedParams
from slmops.metrics import evaluation_rows
from slmops.metrics import (
    METHODS,
    Scores,
    TaskSpec,
    delta,
    difference_intervals,
    references_of,
    score_predictions,
    task_spec,
)
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.generation import Generation, completion_nll, generate_answers, measure_decode_speed
from slmops.modeling.quantization import round_weights_in_place
from slmops.pipelines.evaluate.prompts import with_label_list

BASE, LISTED, ON_GRID, TUNED = "base", "base_with_label_list", "base_on_grid", "tuned"


def run_model(bundle: ModelBundle, rows: list[dict[str, Any]], prompts: list[str], spec: TaskSpec,
              params: EvaluateParams, name: str, perplexity: bool = True) -> tuple[Scores, list[Generation]]:
    """Generate an answer per row and score it; perplexity of the reference completions when asked."""
    started = time.perf_counter()
    generations = generate_answers(bundle, prompts, params.max_new_tokens, params.batch_size, params.generation,
                                   desc=f"generate ({name})")
    generate_seconds = time.perf_counter() - started
    nll = completion_nll(bundle, rows, params.batch_size, desc=f"perplexity ({name})") if perplexity else None
    scores = score_predictions([g.text for g in generations], references_of(rows), spec,
                               truncated=[g.truncated for g in generations], completion_nll=nll,
                               resamples=params.bootstrap_resamples, seed=params.bootstrap_seed)
    scores.metrics["seconds"] = round(time.perf_counter() - started, 2)
    scores.metrics["rows_per_second"] = round(len(rows) / generate_seconds, 2) if generate_seconds else 0.0
    return scores, generations


def _runs(base_model: ModelBundle, merged_model: ModelBundle, rows: list[dict[str, Any]], spec: TaskSpec,
          params: EvaluateParams, grid: QuantizationAwareParams | None) -> dict[str, tuple[Scores, list[Generation]]]:
    prompts = [e["prompt"] for e in rows]
    runs = {BASE: run_model(base_model, rows, prompts, spec, params, BASE)}
    if params.base_with_label_list and spec.kind == "classification":
        listed = [with_label_list(e, list(spec.labels)) for e in rows]
        runs[LISTED] = run_model(base_model, rows, listed, spec, params, LISTED, perplexity=False)
    if grid is not None:
        # The tuned model was scored on the int4 grid: the base on that same grid splits "tuned − base" into what
        # fine-tuning gained and what the grid cost. Rounded in place: the base's float weights are not needed again.
        round_onto_grid(base_model, grid)
        runs[ON_GRID] = run_model(base_model, rows, prompts, spec, params, ON_GRID)
    runs[TUNED] = run_model(merged_model, rows, prompts, spec, params, TUNED)
    return runs


def round_onto_grid(bundle: ModelBundle, grid: QuantizationAwareParams) -> None:
    """Every Linear weight of the model onto the int4 grid, as training's merge rounds the fine-tuned model."""
    import torch

    model = bundle.model.to(torch.float32)  # int4 grid values need more mantissa than bf16 has
    round_weights_in_place([m for m in model.modules() if isinstance(m, torch.nn.Linear)], grid.block_size)


def decomposition(runs: dict[str, tuple[Scores, list[Generation]]], rows: int,
                  params: EvaluateParams) -> tuple[dict[str, Any], dict[str, Any]]:
    """tuned − base on the grid (what fine-tuning gained), base on the grid − base (what the grid cost), intervals."""
    if ON_GRID not in runs:
        return {}, {}
    (base, _), (on_grid, _), (tuned, _) = runs[BASE], runs[ON_GRID], runs[TUNED]
    pairs = {"delta_tuning": (tuned, on_grid), "delta_grid": (on_grid, base)}
    return ({name: delta(a.metrics, b.metrics) for name, (a, b) in pairs.items()},
            {name: difference_intervals(a, b, rows, params.bootstrap_resamples, params.bootstrap_seed)
             for name, (a, b) in pairs.items()})


def _row_record(example: dict[str, Any], reference: str, runs: dict[str, tuple[Scores, list[Generation]]],
                index: int, lengths: tuple[int, int]) -> dict[str, Any]:
    record: dict[str, Any] = {"id": example["id"], "reference": reference,
                              "prompt_tokens": lengths[0], "completion_tokens": lengths[1]}
    for name, (scores, generations) in runs.items():
        record[name] = generations[index].text.strip()
        record[f"{name}_answer"] = scores.answers[index]
        record[f"{name}_truncated"] = generations[index].truncated
    return record


def sample_indices(rows: int, count: int) -> list[int]:
    """Evenly spaced rows: validation rows come grouped by label, so the first few would all share one."""
    count = min(count, rows)
    return sorted({i * rows // count for i in range(count)}) if count else []


def token_lengths(bundle: ModelBundle, rows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    tokenizer = bundle.tokenizer
    prompts = tokenizer([e["prompt"] for e in rows], add_special_tokens=True)["input_ids"]
    completions = tokenizer([e["completion"] for e in rows], add_special_tokens=False)["input_ids"]
    return [(len(p), len(c)) for p, c in zip(prompts, completions)]


def pytorch_decode_speed(bundle: ModelBundle, rows: list[dict[str, Any]], speed: SpeedParams) -> dict[str, Any]:
    """The fine-tuned model's single-stream decode speed: the baseline every ONNX target is compared with.

    Measured once here (not in each target's stage) on the prompts and token count the targets use.
    """
    prompts = [e["prompt"] for e in rows[: speed.prompt_count]]
    measure_decode_speed(bundle, prompts[:1], 4)  # untimed: the first generate call's one-off set-up
    measured = measure_decode_speed(bundle, prompts, speed.new_tokens)
    return {"prompts": len(prompts), "new_tokens": speed.new_tokens,
            "tokens_per_second": round(measured["tokens_per_second"], 1),
            "first_token_ms": round(measured["first_token_ms"], 1)}


def evaluate_models(base_model: ModelBundle, merged_model: ModelBundle, validation_examples: list[dict[str, Any]],
                    evaluate_params: dict[str, Any], speed_params: dict[str, Any],
                    quantization_aware: dict[str, Any] | None = None,
                    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Return metrics (each model, delta, 95% intervals, the fine-tuned model's decode speed), details
    (per class, confusion, how each metric is computed), a few samples, and every row's answers.

    The metrics file stays flat numbers (and interval lists, which ``dvc metrics show`` skips) so it
    reads as a table; what is per label or descriptive goes to the details file.
    """
    params: EvaluateParams = parse(EvaluateParams, evaluate_params, "evaluate")
    rows = evaluation_rows(validation_examples, params.max_rows)
    spec = task_spec(rows, params.task, params.answer_pattern, params.generation.stop_strings)
    grid = parse(QuantizationAwareParams, quantization_aware, "train.quantization_aware") if quantization_aware else None
    runs = _runs(base_model, merged_model, rows, spec, params, grid)
    (base, _), (tuned, _) = runs[BASE], runs[TUNED]
    deltas, delta_intervals = decomposition(runs, len(rows), params)
    metrics: dict[str, Any] = {
        "rows": len(rows), "task": spec.kind, "labels": list(spec.labels), "answer_pattern": spec.answer_pattern,
        **{name: scores.metrics for name, (scores, _) in runs.items()},
        "delta": delta(tuned.metrics, base.metrics),
        **({"grid": {"bits": grid.bits, "block_size": grid.block_size, "target": grid.target}} if grid else {}),
        **deltas,
        "intervals": {**{name: scores.intervals for name, (scores, _) in runs.items()},
                      "delta": difference_intervals(tuned, base, len(rows), params.bootstrap_resamples,
                                                    params.bootstrap_seed), **delta_intervals},
        "decode": pytorch_decode_speed(merged_model, rows, parse(SpeedParams, speed_params, "export.speed")),
    }
    reported = {name for scores, _ in runs.values() for name in scores.metrics}
    details: dict[str, Any] = {
        "methods": {name: text for name, text in METHODS.items() if name in reported},
        "bootstrap": {"resamples": params.bootstrap_resamples, "seed": params.bootstrap_seed, "level": 0.95},
        "generation": {"max_new_tokens": params.max_new_tokens, **params.generation.model_dump()},
    }
    if spec.kind == "classification":
        details["per_class"] = {name: scores.per_class for name, (scores, _) in runs.items()}
        details["confusion"] = {name: scores.confusion for name, (scores, _) in runs.items()}
    references = references_of(rows)
    lengths = token_lengths(merged_model, rows)
    predictions = [_row_record(e, references[i], runs, i, lengths[i]) for i, e in enumerate(rows)]
    picked = sample_indices(len(rows), params.sample_count)
    samples = {"samples": [{"id": predictions[i]["id"], "input": rows[i]["input"],
                            "reference": predictions[i]["reference"], **{name: predictions[i][name] for name in runs}}
                           for i in picked]}
    return metrics, details, samples, predictions
