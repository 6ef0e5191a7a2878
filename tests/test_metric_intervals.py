"""Bootstrap intervals over rows on fixed samples."""

from __future__ import annotations

import numpy as np
import pytest

from slmops.metrics import TaskSpec, difference_intervals, resample_indices, score_predictions
from slmops.metrics.classification import macro_scores_over_resamples

pytestmark = pytest.mark.fast  # in `make test-fast`

GENERATE = TaskSpec(kind="generation")


def test_interval_of_a_mean_brackets_it_at_the_expected_width():
    # 100 rows, half right: the mean is 0.5 and its standard error 0.05, so the 95% interval is ~0.4..0.6.
    scores = score_predictions(["yes", "no"] * 50, ["yes"] * 100, GENERATE, resamples=2000, seed=0)
    low, high = scores.intervals["exact_match"]
    assert scores.metrics["exact_match"] == 0.5
    assert 0.37 < low < 0.45 and 0.55 < high < 0.63


def test_intervals_are_reproducible_with_a_fixed_seed():
    args = (["yes", "no", "no", "yes", "maybe"], ["yes", "yes", "no", "no", "maybe"], GENERATE)
    assert score_predictions(*args, seed=3).intervals == score_predictions(*args, seed=3).intervals
    assert (resample_indices(5, 10, 7) == resample_indices(5, 10, 7)).all()
    assert (resample_indices(5, 10, 7) != resample_indices(5, 10, 8)).any()


def test_a_constant_metric_has_a_zero_width_interval():
    scores = score_predictions(["same"] * 10, ["same"] * 10, GENERATE)
    assert scores.intervals["exact_match"] == [1.0, 1.0]


def test_vectorized_macro_f1_equals_scikit_learn_on_every_resample():
    from sklearn.metrics import f1_score, precision_score

    rng = np.random.default_rng(1)
    answers, references = rng.integers(0, 4, 60), rng.integers(0, 3, 60)  # 3 labels; index 3 is "not a label"
    indices = resample_indices(60, 20, 5)
    vectorized = macro_scores_over_resamples(answers, references, 3, indices)
    for row, drawn in enumerate(indices):
        kwargs = {"labels": [0, 1, 2], "average": "macro", "zero_division": 0}
        assert vectorized["f1"][row] == pytest.approx(f1_score(references[drawn], answers[drawn], **kwargs))
        assert vectorized["macro_precision"][row] == pytest.approx(
            precision_score(references[drawn], answers[drawn], **kwargs))


def test_paired_difference_interval():
    references = ["a", "b", "c", "d"] * 10
    base = score_predictions(["x"] * 40, references, GENERATE)
    tuned = score_predictions(references[:30] + ["x"] * 10, references, GENERATE)  # right on 30 of 40
    same = difference_intervals(base, base, 40)
    assert same["exact_match"] == [0.0, 0.0]
    low, high = difference_intervals(tuned, base, 40)["exact_match"]
    assert 0.5 < low < 0.75 < high < 0.95  # paired: the gain is 0.75 and clearly not noise


def test_perplexity_interval_brackets_the_token_weighted_value():
    nll = [(float(i % 5), 2) for i in range(50)]
    scores = score_predictions(["a"] * 50, ["a"] * 50, GENERATE, completion_nll=nll)
    low, high = scores.intervals["perplexity"]
    assert low < scores.metrics["perplexity"] < high
