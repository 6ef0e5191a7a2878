"""Classification scores with scikit-learn: accuracy, macro and per-class precision/recall/F1, confusion.

An answer that is none of the known labels (compared ignoring case) counts as wrong for every
label, is its own column of the confusion matrix, and is counted in ``unknown_label_share``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

OTHER_LABEL = "(other)"  # an answer that is none of the labels: the base model's sentences


def canonical_label(prediction: str, labels: Sequence[str]) -> str:
    """Map a prediction onto a label ignoring case; anything else stays as it is (and counts as wrong)."""
    lookup = {label.lower(): label for label in labels}
    return lookup.get(prediction.lower(), prediction)


def label_indices(answers: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Index of each answer in ``labels``; ``len(labels)`` (the OTHER_LABEL column) when it is none of them."""
    index = {label: i for i, label in enumerate(labels)}
    return np.array([index.get(a, len(labels)) for a in answers], dtype=np.int64)


def classification_scores(answers: Sequence[str], references: Sequence[str], labels: Sequence[str]
                          ) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    labels = list(labels)
    mapped = [canonical_label(a, labels) for a in answers]
    precision, recall, f1, _ = precision_recall_fscore_support(references, mapped, labels=labels, average="macro",
                                                               zero_division=0)
    known = {label for label in labels}
    return {
        "accuracy": float(accuracy_score(references, mapped)),
        "f1": float(f1),
        "macro_precision": float(precision),
        "macro_recall": float(recall),
        "unknown_label_share": sum(a not in known for a in mapped) / len(mapped),
    }


def per_class_scores(answers: Sequence[str], references: Sequence[str], labels: Sequence[str]
                     ) -> dict[str, dict[str, float]]:
    from sklearn.metrics import precision_recall_fscore_support

    labels = list(labels)
    mapped = [canonical_label(a, labels) for a in answers]
    precision, recall, f1, support = precision_recall_fscore_support(references, mapped, labels=labels,
                                                                     average=None, zero_division=0)
    return {label: {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4),
                    "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)}


def confusion(answers: Sequence[str], references: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Counts of (reference, answer), rows and columns ``labels + [OTHER_LABEL]``."""
    from sklearn.metrics import confusion_matrix

    labels = list(labels)
    known = set(labels)
    mapped = [canonical_label(a, labels) for a in answers]
    mapped = [a if a in known else OTHER_LABEL for a in mapped]
    refs = [r if r in known else OTHER_LABEL for r in references]
    names = [*labels, OTHER_LABEL]
    counts = confusion_matrix(refs, mapped, labels=names)
    return {"labels": names, "counts": counts.astype(int).tolist()}


def macro_scores_over_resamples(answer_index: np.ndarray, reference_index: np.ndarray, label_count: int,
                                resamples: np.ndarray) -> dict[str, np.ndarray]:
    """Macro precision/recall/F1 and accuracy for each row of ``resamples`` (indices), vectorized.

    Same definition as scikit-learn's macro average with ``zero_division=0`` over the known labels
    (tested against it), computed in numpy so a thousand resamples take milliseconds.
    """
    predicted, expected = answer_index[resamples], reference_index[resamples]
    precisions, recalls, f1s = [], [], []
    for label in range(label_count):
        tp = ((predicted == label) & (expected == label)).sum(axis=1)
        fp = ((predicted == label) & (expected != label)).sum(axis=1)
        fn = ((predicted != label) & (expected == label)).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
            recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)
            f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
        precisions.append(precision)
        recalls.append(recall)
        f1s.append(f1)
    return {"accuracy": (predicted == expected).mean(axis=1), "f1": np.mean(f1s, axis=0),
            "macro_precision": np.mean(precisions, axis=0), "macro_recall": np.mean(recalls, axis=0),
            "unknown_label_share": (predicted == label_count).mean(axis=1)}
