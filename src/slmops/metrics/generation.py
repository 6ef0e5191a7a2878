"""Per-row scores of free-text answers: ROUGE, SQuAD token F1, exact match, length, repetition.

Each is a value per row, so the dataset score is the mean and a bootstrap over rows resamples it.
ROUGE comes from `rouge_score` (what `evaluate`'s "rouge" wraps; `evaluate.load()` fetches its
script from the Hub, unreachable at run time). Token F1 and exact match follow the SQuAD v1.1
evaluation script's normalization, so token F1 differs from ROUGE-1 on purpose: articles and
punctuation are dropped and words are not stemmed.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")
ROUGE_STEMMING = True  # Porter stemming, as in most summarization papers
REPEATED_NGRAM = 4  # an answer repeating some 4-word sequence ...
REPEATED_TIMES = 3  # ... 3 or more times has degenerated into a loop

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def squad_normalize(text: str) -> str:
    """Lower case, punctuation removed, articles (a, an, the) removed, whitespace collapsed (SQuAD v1.1)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1: harmonic mean of token precision and recall over normalized words (bag of words)."""
    predicted, expected = squad_normalize(prediction).split(), squad_normalize(reference).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, reference: str) -> float:
    return float(squad_normalize(prediction) == squad_normalize(reference))


def rouge_rows(predictions: Sequence[str], references: Sequence[str]) -> dict[str, list[float]]:
    """ROUGE-1/2/L F-measure per row (rouge_score's tokenizer: lower case, non-alphanumerics are spaces)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_KEYS), use_stemmer=ROUGE_STEMMING)
    rows: dict[str, list[float]] = {key: [] for key in ROUGE_KEYS}
    for prediction, reference in zip(predictions, references, strict=True):
        scores = scorer.score(reference, prediction)
        for key in ROUGE_KEYS:
            rows[key].append(scores[key].fmeasure)
    return rows


def word_count(text: str) -> int:
    return len(text.split())


def is_repetitive(text: str, n: int = REPEATED_NGRAM, times: int = REPEATED_TIMES) -> bool:
    """True when some n-word sequence occurs ``times`` or more times: the answer loops."""
    words = text.lower().split()
    if len(words) < n:
        return False
    counts = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    return max(counts.values()) >= times
