"""Score a list of generations against references with the task's metrics, with bootstrap intervals.

The one entry point both evaluations (PyTorch here, onnxruntime-genai in ``evaluate_onnx``) call,
so every engine is scored by the same rules on the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from slmops.metrics import classification, generation, intervals
from slmops.metrics.answers import clean_generation, compile_answer_pattern, extract_answer, first_line

TaskKind = Literal["classification", "generation"]

# How each metric is computed, said wherever it is reported.
METHODS: dict[str, str] = {
    "accuracy": "share of rows whose answer (first non-empty line, quotes and final punctuation trimmed, "
                "case ignored) is the reference label",
    "f1": "classification: macro-F1, the unweighted mean of each label's F1 (scikit-learn, zero_division=0); "
          "generation: SQuAD token F1 per row (lower case, punctuation and articles removed, bag of words), "
          "averaged over rows",
    "macro_precision": "unweighted mean over labels of precision (scikit-learn, zero_division=0)",
    "macro_recall": "unweighted mean over labels of recall (scikit-learn, zero_division=0)",
    "unknown_label_share": "share of answers that are none of the known labels (case ignored)",
    "rouge1": "ROUGE-1 F-measure (rouge_score; its tokenizer: lower case, non-alphanumerics split; Porter "
              "stemming on), averaged over rows",
    "rouge2": "ROUGE-2 F-measure, same tokenizer and stemming as ROUGE-1",
    "rougeL": "ROUGE-L (longest common subsequence) F-measure, same tokenizer and stemming as ROUGE-1",
    "exact_match": "share of rows whose answer equals the reference after SQuAD normalization (lower case, "
                   "punctuation and articles removed); with evaluate.answer_pattern, of the extracted answers",
    "answer_found_share": "share of answers in which evaluate.answer_pattern finds an answer",
    "mean_answer_words": "mean number of whitespace-separated words in the answer",
    "truncated_share": "share of answers cut off by evaluate.max_new_tokens (no end-of-turn or stop string "
                       "before the limit)",
    "repetition_share": f"share of answers in which some {generation.REPEATED_NGRAM}-word sequence occurs "
                        f"{generation.REPEATED_TIMES} or more times (a degenerate loop)",
    "perplexity": "exp of the mean token negative log-likelihood over the reference completion tokens "
                  "(end-of-turn included), given their prompts",
}
# Lower is better for these; higher for every other metric.
LOWER_IS_BETTER = {"perplexity", "unknown_label_share", "truncated_share", "repetition_share"}


@dataclass(frozen=True)
class TaskSpec:
    """What is scored and how: the task kind, its labels, and how an answer is taken out of a generation."""

    kind: TaskKind
    labels: tuple[str, ...] = ()
    answer_pattern: str | None = None
    stop_strings: tuple[str, ...] = ()


@dataclass
class Scores:
    metrics: dict[str, float]  # flat, rounded: what eval.json and the export metrics hold per model
    intervals: dict[str, list[float]]  # metric -> [low, high], bootstrap 95% over rows
    answers: list[str]  # the scored answer of each row
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: dict[str, Any] = field(default_factory=dict)
    resampled: dict[str, intervals.ResampledMetric] = field(default_factory=dict, repr=False)


def reference_answers(references: Sequence[str], spec: TaskSpec) -> list[str]:
    pattern = compile_answer_pattern(spec.answer_pattern)
    extracted = [extract_answer(r, pattern) for r in references]
    # A reference without the pattern is scored whole, rather than dropped.
    return [e if e is not None else r.strip() for e, r in zip(extracted, references)]


def prediction_answers(generations: Sequence[str], spec: TaskSpec) -> tuple[list[str], list[str], list[bool]]:
    """(whole answers, scored answers, whether the pattern found an answer) for each generation."""
    pattern = compile_answer_pattern(spec.answer_pattern)
    whole = [clean_generation(g, spec.stop_strings) for g in generations]
    extracted = [extract_answer(w, pattern) for w in whole]
    scored = [e or "" for e in extracted]
    if spec.kind == "classification":
        scored = [first_line(s) for s in scored]
    return whole, scored, [e is not None for e in extracted]


def _classification(scored: list[str], references: list[str], spec: TaskSpec, result: dict[str, Any],
                    resampled: dict[str, intervals.ResampledMetric]) -> tuple[dict, dict]:
    labels = list(spec.labels)
    result.update(classification.classification_scores(scored, references, labels))
    mapped = [classification.canonical_label(a, labels) for a in scored]
    answer_index = classification.label_indices(mapped, labels)
    reference_index = classification.label_indices(references, labels)
    for name in ("accuracy", "f1", "macro_precision", "macro_recall", "unknown_label_share"):
        resampled[name] = (lambda indices, name=name: classification.macro_scores_over_resamples(
            answer_index, reference_index, len(labels), indices)[name])
    return (classification.per_class_scores(scored, references, labels),
            classification.confusion(scored, references, labels))


def _generation(whole: list[str], scored: list[str], references_whole: list[str], references: list[str],
                result: dict[str, Any], rows: dict[str, list[float]]) -> None:
    rows.update(generation.rouge_rows(whole, references_whole))
    rows["f1"] = [generation.token_f1(w, r) for w, r in zip(whole, references_whole)]
    rows["exact_match"] = [generation.exact_match(s, r) for s, r in zip(scored, references)]
    rows["mean_answer_words"] = [float(generation.word_count(w)) for w in whole]
    rows["repetition_share"] = [float(generation.is_repetitive(w)) for w in whole]
    result.update({name: sum(values) / len(values) for name, values in rows.items()})


def score_predictions(generations: Sequence[str], references: Sequence[str], spec: TaskSpec, *,
                      truncated: Sequence[bool] | None = None,
                      completion_nll: Sequence[tuple[float, int]] | None = None,
                      resamples: int = intervals.DEFAULT_RESAMPLES, seed: int = intervals.DEFAULT_SEED) -> Scores:
    """Score raw generations (as decoded) against references, with 95% bootstrap intervals over rows.

    ``truncated[i]``: row i's generation hit max_new_tokens without ending. ``completion_nll[i]``:
    (sum of token NLL, token count) of row i's reference completion, for perplexity.
    """
    if len(generations) != len(references):
        raise ValueError(f"{len(generations)} predictions for {len(references)} references")
    if not references:
        raise ValueError("nothing to score")
    whole, scored, found = prediction_answers(generations, spec)
    references_whole = [r.strip() for r in references]
    expected = reference_answers(references, spec)
    result: dict[str, Any] = {}
    rows: dict[str, list[float]] = {}
    resampled: dict[str, intervals.ResampledMetric] = {}
    per_class: dict = {}
    confusion: dict = {}
    if spec.kind == "classification":
        per_class, confusion = _classification(scored, expected, spec, result, resampled)
    else:
        _generation(whole, scored, references_whole, expected, result, rows)
    if spec.answer_pattern:
        rows["answer_found_share"] = [float(f) for f in found]
    if truncated is not None:
        rows["truncated_share"] = [float(t) for t in truncated]
    for name in ("answer_found_share", "truncated_share"):
        if name in rows:
            result[name] = sum(rows[name]) / len(rows[name])
    resampled.update({name: intervals.mean_over_resamples(values) for name, values in rows.items()})
    if completion_nll is not None:
        nll, tokens = [n for n, _ in completion_nll], [t for _, t in completion_nll]
        result["perplexity"] = math.exp(sum(nll) / sum(tokens)) if sum(tokens) else float("nan")
        resampled["perplexity"] = intervals.ratio_over_resamples(nll, tokens, np.exp)
    indices = intervals.resample_indices(len(references), resamples, seed)
    return Scores(metrics={k: round(float(v), 4) for k, v in result.items()},
                  intervals=intervals.bootstrap_intervals(resampled, indices), answers=scored,
                  per_class=per_class, confusion=confusion, resampled=resampled)


def score_generations(predictions: list[str], references: list[str], labels: list[str] | None = None
                      ) -> dict[str, float]:
    """The flat metrics only: classification when ``labels`` are given, generation otherwise."""
    spec = TaskSpec(kind="classification", labels=tuple(labels)) if labels else TaskSpec(kind="generation")
    return score_predictions(predictions, references, spec, resamples=1).metrics
