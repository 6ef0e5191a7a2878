"""Quality metrics shared by every evaluation (PyTorch in `evaluate`, onnxruntime-genai in `evaluate_onnx`).

The stable entry points:

- ``task_spec(rows, task, answer_pattern, stop_strings)``: the task kind (from the data unless
  ``evaluate.task`` says), its labels, and how an answer is taken out of a generation.
- ``score_predictions(generations, references, spec, truncated=..., completion_nll=...)``: the
  task's metrics (flat dict), bootstrap 95% intervals over rows, per-class scores and confusion.
- ``difference_intervals(after, before, rows)``: paired 95% intervals of after − before.
- ``METHODS``: how each metric is computed, to state wherever it is reported.
"""

from slmops.metrics.answers import clean_generation, cut_at_stop_strings, extract_answer, first_line
from slmops.metrics.classification import OTHER_LABEL, canonical_label
from slmops.metrics.generation import is_repetitive, squad_normalize, token_f1
from slmops.metrics.intervals import DEFAULT_RESAMPLES, DEFAULT_SEED, resample_indices
from slmops.metrics.scoring import (
    LOWER_IS_BETTER,
    METHODS,
    Scores,
    TaskSpec,
    score_generations,
    score_predictions,
)
from slmops.metrics.task import evaluation_rows, references_of, task_kind, task_spec

normalize_prediction = first_line  # the name the first-line label cleanup had before


def difference_intervals(after: Scores, before: Scores, rows: int, resamples: int = DEFAULT_RESAMPLES,
                         seed: int = DEFAULT_SEED) -> dict[str, list[float]]:
    """Paired bootstrap 95% interval of after − before over the same resampled rows."""
    from slmops.metrics import intervals

    indices = resample_indices(rows, resamples, seed)
    return intervals.difference_intervals(after.resampled, before.resampled, indices)


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    """after − before for every numeric metric both have (``seconds`` is not a metric)."""
    return {k: round(after[k] - before[k], 4) for k in after
            if k in before and k != "seconds" and isinstance(after[k], int | float)}


__all__ = [
    "DEFAULT_RESAMPLES", "DEFAULT_SEED", "LOWER_IS_BETTER", "METHODS", "OTHER_LABEL", "Scores", "TaskSpec",
    "canonical_label", "clean_generation", "cut_at_stop_strings", "delta", "difference_intervals",
    "evaluation_rows", "extract_answer", "first_line", "is_repetitive", "normalize_prediction",
    "references_of", "resample_indices", "score_generations", "score_predictions", "squad_normalize",
    "task_kind", "task_spec", "token_f1",
]
