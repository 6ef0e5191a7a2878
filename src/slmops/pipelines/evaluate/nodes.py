"""Score the base and the fine-tuned model side by side on the validation set."""

from __future__ import annotations

import time
from typing import Any

from slmops.config import EvaluateParams, parse
from slmops.metrics import normalize_prediction, score_generations
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.generation import completion_perplexity, generate_greedy

METRIC_KEYS = ("perplexity", "rouge1", "rouge2", "rougeL", "f1", "exact_match")


def evaluation_rows(examples: list[dict[str, Any]], params: EvaluateParams) -> list[dict[str, Any]]:
    return examples[: params.max_rows] if params.max_rows else examples


def task_labels(examples: list[dict[str, Any]]) -> list[str]:
    """The label set for macro-F1, or [] for free-text tasks (token-level F1 then)."""
    return sorted({e["label"] for e in examples}) if all("label" in e for e in examples) else []


def references_of(examples: list[dict[str, Any]]) -> list[str]:
    return [e.get("label", e["target"]) for e in examples]


def score_model(bundle: ModelBundle, examples: list[dict[str, Any]], params: EvaluateParams, name: str
                ) -> tuple[dict[str, float], list[str]]:
    started = time.perf_counter()
    generations = generate_greedy(bundle, [e["prompt"] for e in examples], params.max_new_tokens,
                                  params.batch_size, desc=f"generate ({name})")
    scores = score_generations(generations, references_of(examples), task_labels(examples))
    scores["perplexity"] = round(completion_perplexity(bundle, examples, params.batch_size,
                                                       desc=f"perplexity ({name})"), 4)
    scores["seconds"] = round(time.perf_counter() - started, 2)
    return scores, generations


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: round(after[k] - before[k], 4) for k in after if k in before and k != "seconds"}


def evaluate_models(base_model: ModelBundle, merged_model: ModelBundle, validation_examples: list[dict[str, Any]],
                    evaluate_params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Return metrics (base, tuned, delta), a few sample generations, and every row's predictions."""
    params: EvaluateParams = parse(EvaluateParams, evaluate_params, "evaluate")
    rows = evaluation_rows(validation_examples, params)
    base_scores, base_generations = score_model(base_model, rows, params, "base")
    tuned_scores, tuned_generations = score_model(merged_model, rows, params, "tuned")
    labels = task_labels(rows)
    metrics = {"rows": len(rows), "task": "classification" if labels else "generation", "labels": labels,
               "base": base_scores, "tuned": tuned_scores, "delta": delta(tuned_scores, base_scores)}
    predictions = [{"id": e["id"], "reference": ref, "base": normalize_prediction(b), "tuned": normalize_prediction(t)}
                   for e, ref, b, t in zip(rows, references_of(rows), base_generations, tuned_generations)]
    samples = {"samples": [{"id": e["id"], "input": e["input"], "reference": ref, "base": b.strip(), "tuned": t.strip()}
                           for e, ref, b, t in list(zip(rows, references_of(rows), base_generations,
                                                        tuned_generations))[: params.sample_count]]}
    return metrics, samples, predictions
