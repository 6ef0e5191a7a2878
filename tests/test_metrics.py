"""Metrics shared by the PyTorch and ONNX evaluations; expected values are worked out by hand."""

from __future__ import annotations

import math

import pytest

from slmops.metrics import (
    TaskSpec,
    canonical_label,
    cut_at_stop_strings,
    first_line,
    is_repetitive,
    score_generations,
    score_predictions,
    task_spec,
    token_f1,
)
from slmops.errors import ConfigError

pytestmark = pytest.mark.fast  # in `make test-fast`

LABELS = ("AddToPlaylist", "GetWeather", "PlayMusic")
CLASSIFY = TaskSpec(kind="classification", labels=LABELS)
GENERATE = TaskSpec(kind="generation")
GSM8K = TaskSpec(kind="generation", answer_pattern=r"####\s*(\S+)")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("  PlayMusic  \n", "PlayMusic"), ("\n\n  \nGetWeather\nbecause it asks about rain", "GetWeather"),
     ('"PlayMusic".', "PlayMusic"), ("`PlayMusic`", "PlayMusic"), ("Dr. Who is on.", "Dr. Who is on"),
     ("   \n\t\n", "")],
)
def test_first_line_trims_a_label(raw, expected):
    assert first_line(raw) == expected


def test_stop_strings_cut_at_the_earliest_one():
    assert cut_at_stop_strings("answer\nUser: more\n###", ["###", "\nUser:"]) == "answer"
    assert cut_at_stop_strings("no stop here", ["###"]) == "no stop here"


def test_classification_hand_computed():
    # A: tp 1, fp 0, fn 1 -> P 1, R 1/2, F1 2/3.   B: tp 2, fp 1, fn 0 -> P 2/3, R 1, F1 4/5.
    spec = TaskSpec(kind="classification", labels=("A", "B"))
    scores = score_predictions(["A", "B", "B", "B"], ["A", "A", "B", "B"], spec).metrics
    assert scores["accuracy"] == 0.75
    assert scores["f1"] == pytest.approx(round((2 / 3 + 4 / 5) / 2, 4))
    assert scores["macro_precision"] == pytest.approx(round((1 + 2 / 3) / 2, 4))
    assert scores["macro_recall"] == 0.75 and scores["unknown_label_share"] == 0.0
    assert "rouge1" not in scores  # a label is not a summary


def test_classification_keeps_the_first_line_only_and_counts_unknown_answers():
    references = ["PlayMusic", "GetWeather", "AddToPlaylist", "PlayMusic"]
    generations = ["playmusic", '"GETWEATHER"\nbecause it asks about rain', "addtoplaylist.", "Sure! I can play it"]
    scores = score_predictions(generations, references, CLASSIFY)
    assert scores.answers == ["playmusic", "GETWEATHER", "addtoplaylist", "Sure! I can play it"]
    assert scores.metrics["accuracy"] == 0.75 and scores.metrics["unknown_label_share"] == 0.25
    # PlayMusic: tp 1, fn 1 -> P 1, R 1/2.  The other two: perfect.
    assert scores.per_class["PlayMusic"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert scores.per_class["GetWeather"]["f1"] == 1.0
    assert scores.confusion["labels"][-1] == "(other)"
    assert scores.confusion["counts"][LABELS.index("PlayMusic")] == [0, 0, 1, 1]


def test_macro_f1_averages_over_every_given_label():
    scores = score_generations(["A", "B"], ["A", "B"], ["A", "B", "C"])  # C never occurs: its F1 is 0
    assert scores["f1"] == pytest.approx(round(2 / 3, 4))


def test_token_f1_is_squad_style_and_differs_from_rouge1():
    # Articles and punctuation go: "cat sat" vs "cat sat on mat" -> P 1, R 1/2 -> 2/3.
    assert token_f1("The cat sat.", "the cat sat on a mat") == pytest.approx(2 / 3)
    assert token_f1("a a a", "a") == 1.0  # only articles on both sides: both empty
    assert token_f1("dog dog dog", "dog") == pytest.approx(0.5)  # P 1/3, R 1
    assert token_f1("", "cat") == 0.0
    # "the cats" vs "a cat": token F1 0 (no stemming, articles dropped); ROUGE-1 stems cats -> cat
    # and keeps articles: 1 of 2 tokens each way -> 0.5.
    scores = score_predictions(["the cats"], ["a cat"], GENERATE).metrics
    assert scores["f1"] == 0.0 and scores["rouge1"] == 0.5


def test_generation_scores_the_whole_multi_line_answer():
    reference = "First, 3 + 4 = 7.\nThen 7 * 2 = 14.\nThe answer is 14."
    whole = score_predictions([reference + "\n"], [reference], GENERATE).metrics
    assert whole["exact_match"] == 1.0 and whole["rouge1"] == 1.0 and whole["f1"] == 1.0
    first_only = score_predictions(["First, 3 + 4 = 7."], [reference], GENERATE).metrics
    assert first_only["exact_match"] == 0.0 and first_only["rougeL"] < 0.6  # 5 of 14 reference tokens


def test_answer_pattern_scores_the_final_answer_of_prediction_and_reference():
    references = ["She sells 16 - 3 - 4 = 9 eggs.\n9 * 2 = 18\n#### 18", "48 / 2 = 24\n#### 72"]
    generations = ["16 - 7 = 9 eggs, 9 * 2 = 18 dollars.\n#### 18", "I think it is 72."]
    scores = score_predictions(generations, references, GSM8K).metrics
    assert scores["exact_match"] == 0.5  # the first matches on "18"; the second has no "####" answer
    assert scores["answer_found_share"] == 0.5
    whole = score_predictions(generations, references, GENERATE).metrics
    assert whole["exact_match"] == 0.0  # whole worked solutions never match


def test_lengths_truncation_repetition_and_perplexity():
    looping = "Amanda is talking about how Tom is talking about how Jo is talking about how"
    assert is_repetitive(looping) and not is_repetitive("one two three four five six seven eight")
    scores = score_predictions([looping, "Tom calls"], ["Amanda and Tom talk", "Tom calls Amanda"], GENERATE,
                               truncated=[True, False], completion_nll=[(2.0, 2), (4.0, 2)]).metrics
    assert scores["repetition_share"] == 0.5 and scores["truncated_share"] == 0.5
    assert scores["mean_answer_words"] == (15 + 2) / 2
    assert scores["perplexity"] == pytest.approx(round(math.exp(6 / 4), 4))  # token-weighted, not row-weighted


def test_canonical_label_maps_case_and_leaves_others():
    assert canonical_label("playmusic", LABELS) == "PlayMusic" and canonical_label("Play Music", LABELS) == "Play Music"


def test_task_kind_comes_from_the_data_and_can_be_overridden():
    labelled = [{"label": "A", "target": "A"}, {"label": "B", "target": "B"}]
    free = [{"target": "a summary"}]
    assert task_spec(labelled).kind == "classification" and task_spec(labelled).labels == ("A", "B")
    assert task_spec(free).kind == "generation"
    assert task_spec(labelled, "generation").kind == "generation"
    with pytest.raises(ConfigError, match="evaluate.task: classification needs labelled rows"):
        task_spec(free, "classification")


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="2 predictions for 1 references"):
        score_generations(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="nothing to score"):
        score_generations([], [])
