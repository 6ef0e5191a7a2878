"""Quality metrics shared by the PyTorch and ONNX evaluations, so both are scored the same way.

ROUGE comes from `rouge_score` and macro-F1 from scikit-learn: the packages `evaluate` wraps.
`evaluate.load(...)` fetches metric scripts from the Hub, which is unreachable at run time here.
"""

from __future__ import annotations

import re
from collections import Counter


def normalize_prediction(text: str) -> str:
    """First non-empty line, trimmed of surrounding whitespace, quotes and final punctuation (in any order)."""
    for line in text.strip().splitlines():
        line = line.strip()
        if line:
            while True:
                trimmed = line.strip("\"'`").rstrip(".!").strip()
                if trimmed == line:
                    return line
                line = trimmed
    return ""


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def token_f1(prediction: str, reference: str) -> float:
    predicted, expected = _tokens(prediction), _tokens(reference)
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def canonical_label(prediction: str, labels: list[str]) -> str:
    """Map a prediction onto a label ignoring case; anything else stays as it is (and counts as wrong)."""
    lookup = {label.lower(): label for label in labels}
    return lookup.get(prediction.lower(), prediction)


def score_generations(predictions: list[str], references: list[str], labels: list[str] | None = None
                      ) -> dict[str, float]:
    """ROUGE-1/2/L (mean F), exact match, and F1: macro over labels when given, token-level otherwise."""
    from rouge_score import rouge_scorer

    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not references:
        raise ValueError("nothing to score")
    normalized = [normalize_prediction(p) for p in predictions]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    rouge = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for prediction, reference in zip(normalized, references, strict=True):
        scores = scorer.score(reference, prediction)
        for key in rouge:
            rouge[key] += scores[key].fmeasure
    count = len(references)
    result: dict[str, float] = {key: value / count for key, value in rouge.items()}
    result["exact_match"] = sum(p.lower() == normalize_prediction(r).lower()
                                for p, r in zip(normalized, references)) / count
    if labels:
        from sklearn.metrics import f1_score

        mapped = [canonical_label(p, labels) for p in normalized]
        result["f1"] = float(f1_score(references, mapped, labels=labels, average="macro", zero_division=0))
    else:
        result["f1"] = sum(token_f1(p, r) for p, r in zip(normalized, references)) / count
    return {key: round(value, 4) for key, value in result.items()}
