"""Metrics shared by the PyTorch and ONNX evaluations; expected values are worked out by hand."""

from __future__ import annotations

import pytest

from slmops.metrics import canonical_label, normalize_prediction, score_generations, token_f1

LABELS = ["AddToPlaylist", "GetWeather", "PlayMusic"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("PlayMusic", "PlayMusic"),
        ("  PlayMusic  \n", "PlayMusic"),
        ("\n\n  \nGetWeather\nbecause it asks about rain", "GetWeather"),
        ('"PlayMusic"', "PlayMusic"),
        ("'PlayMusic'", "PlayMusic"),
        ("`PlayMusic`", "PlayMusic"),
        ("PlayMusic.", "PlayMusic"),
        ("PlayMusic!", "PlayMusic"),
        ('"It will rain."', "It will rain"),
        ("Dr. Who is on.", "Dr. Who is on"),  # only the final period goes
        ("", ""),
        ("   \n\t\n", ""),
    ],
)
def test_normalize_prediction(raw, expected):
    assert normalize_prediction(raw) == expected


def test_normalize_prediction_quoted_then_period():
    assert normalize_prediction('"PlayMusic".') == "PlayMusic"


def test_canonical_label_maps_case_and_leaves_others():
    assert canonical_label("playmusic", LABELS) == "PlayMusic"
    assert canonical_label("GETWEATHER", LABELS) == "GetWeather"
    assert canonical_label("Play Music", LABELS) == "Play Music"


def test_perfect_label_predictions_score_one():
    references = ["PlayMusic", "GetWeather", "AddToPlaylist", "PlayMusic"]
    scores = score_generations(list(references), references, LABELS)
    assert scores == {"rouge1": 1.0, "rouge2": 0.0, "rougeL": 1.0, "exact_match": 1.0, "f1": 1.0}


def test_macro_f1_hand_computed():
    references = ["A", "A", "B", "B"]
    predictions = ["A", "B", "B", "B"]
    # A: tp 1, fp 0, fn 1 -> P 1, R 1/2, F1 2/3.   B: tp 2, fp 1, fn 0 -> P 2/3, R 1, F1 4/5.
    expected = round((2 / 3 + 4 / 5) / 2, 4)  # 0.7333
    scores = score_generations(predictions, references, ["A", "B"])
    assert scores["f1"] == pytest.approx(expected)
    assert scores["exact_match"] == 0.75


def test_macro_f1_averages_over_every_given_label():
    # Label C never occurs: zero_division=0 gives it F1 0, so the macro mean is over three labels.
    scores = score_generations(["A", "B"], ["A", "B"], ["A", "B", "C"])
    assert scores["f1"] == pytest.approx(round(2 / 3, 4))


def test_label_match_ignores_case_and_normalizes_first():
    references = ["PlayMusic", "GetWeather", "AddToPlaylist"]
    predictions = ["playmusic", '"GETWEATHER"\nsecond line', "addtoplaylist."]
    scores = score_generations(predictions, references, LABELS)
    assert scores["f1"] == 1.0
    assert scores["exact_match"] == 1.0


def test_out_of_set_predictions_count_as_wrong():
    references = ["PlayMusic", "GetWeather"]
    predictions = ["PlayMusic", "Weather please"]
    # PlayMusic: tp 1 -> F1 1.  GetWeather: tp 0, fn 1 -> F1 0.  AddToPlaylist: absent -> 0.
    scores = score_generations(predictions, references, LABELS)
    assert scores["f1"] == pytest.approx(round(1 / 3, 4))
    assert scores["exact_match"] == 0.5


def test_token_f1_hand_computed():
    # common tokens 3 of 3 predicted and 5 expected: P 1, R 3/5 -> F1 = 2 * 0.6 / 1.6 = 0.75
    assert token_f1("The cat sat", "the cat sat on mat") == pytest.approx(0.75)
    # repeated tokens count at most as often as in the reference: common {a: 1} -> P 1/3, R 1 -> 0.5
    assert token_f1("a a a", "a") == pytest.approx(0.5)
    assert token_f1("dog", "cat") == 0.0
    assert token_f1("", "") == 1.0
    assert token_f1("...", "cat") == 0.0
    assert token_f1("cat", "") == 0.0


def test_free_text_scores_use_token_f1_and_rouge():
    scores = score_generations(["the cat sat"], ["the cat sat on mat"])
    # ROUGE-1: same unigram overlap as token F1 -> 0.75.  ROUGE-2: 2 of 2 predicted bigrams, 2 of 4 reference
    # bigrams -> P 1, R 0.5 -> 0.6667.  ROUGE-L: LCS 3 -> P 1, R 0.6 -> 0.75.
    assert scores == {"rouge1": 0.75, "rouge2": 0.6667, "rougeL": 0.75, "exact_match": 0.0, "f1": 0.75}


def test_free_text_mean_over_rows():
    scores = score_generations(["the cat sat", "hello world"], ["the cat sat on mat", "hello world"])
    assert scores["f1"] == pytest.approx((0.75 + 1.0) / 2)
    assert scores["exact_match"] == 0.5
    assert scores["rouge1"] == pytest.approx((0.75 + 1.0) / 2)


def test_rouge_is_one_for_identical_strings_and_within_bounds():
    identical = score_generations(["a quick brown fox"], ["a quick brown fox"])
    assert identical["rouge1"] == identical["rouge2"] == identical["rougeL"] == 1.0
    assert identical["exact_match"] == 1.0 and identical["f1"] == 1.0
    mixed = score_generations(["brown fox quick", "nothing shared", ""], ["a quick brown fox", "cat", "dog"])
    for key in ("rouge1", "rouge2", "rougeL", "f1", "exact_match"):
        assert 0.0 <= mixed[key] <= 1.0
    assert 0.0 < mixed["rouge1"] < 1.0
    assert mixed["exact_match"] == 0.0


def test_exact_match_ignores_case_and_reference_whitespace():
    scores = score_generations(["Hello World"], ["  hello world\n"])
    assert scores["exact_match"] == 1.0


def test_exact_match_for_a_verbatim_sentence():
    assert score_generations(["It will rain."], ["It will rain."])["exact_match"] == 1.0


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="2 predictions for 1 references"):
        score_generations(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="nothing to score"):
        score_generations([], [])
