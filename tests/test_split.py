"""The deterministic split: stratified, seeded, duplicates kept on one side."""

from __future__ import annotations

from collections import Counter

import pytest

from slmops.errors import ConfigError, InputDataError
from slmops.pipelines.split.nodes import split_train_validation

pytestmark = pytest.mark.fast  # in `make test-fast`


def _examples(counts: dict[str, int], copies: int = 1) -> list[dict]:
    """``copies`` rows per distinct prompt; ids unique, so duplicates are told apart."""
    examples = []
    for label, count in counts.items():
        for i in range(count):
            for c in range(copies):
                examples.append({"id": f"{label}-{i}-{c}", "prompt": f"prompt {label} {i}", "completion": label,
                                 "label": label})
    return examples


def _ids(rows):
    return [r["id"] for r in rows]


def test_split_is_deterministic_for_a_seed():
    examples = _examples({"A": 30, "B": 20})
    params = {"seed": 7, "validation_fraction": 0.2}
    train, validation, test, summary = split_train_validation(examples, params)
    again = split_train_validation(list(reversed(examples)), params)  # input order does not matter either
    assert sorted(_ids(train)) == sorted(_ids(again[0]))
    assert sorted(_ids(validation)) == sorted(_ids(again[1]))
    assert list(test) == [] and list(again[2]) == []
    assert summary == again[3]


def test_another_seed_gives_another_validation_set():
    examples = _examples({"A": 50, "B": 50})
    first = split_train_validation(examples, {"seed": 1, "validation_fraction": 0.2})[1]
    second = split_train_validation(examples, {"seed": 2, "validation_fraction": 0.2})[1]
    assert len(first) == len(second) == 20
    assert set(_ids(first)) != set(_ids(second))


def test_stratified_counts_follow_the_fraction_per_label():
    examples = _examples({"A": 60, "B": 40, "C": 20})
    train, validation, test, summary = split_train_validation(examples, {"seed": 3, "validation_fraction": 0.25})
    # round(60 * .25) = 15, round(40 * .25) = 10, round(20 * .25) = 5
    assert Counter(e["label"] for e in validation) == {"A": 15, "B": 10, "C": 5}
    assert Counter(e["label"] for e in train) == {"A": 45, "B": 30, "C": 15}
    assert summary["stratified"] is True
    assert summary["labels"]["validation"] == {"A": 15, "B": 10, "C": 5}
    assert (summary["train"], summary["validation"], summary["test"]) == (90, 30, 0)
    assert sorted(_ids(train) + _ids(validation)) == sorted(_ids(examples))


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_duplicate_prompts_never_straddle_the_split(seed):
    examples = _examples({"A": 20, "B": 10}, copies=3)  # every prompt appears three times
    train, validation, test, _ = split_train_validation(
        examples, {"seed": seed, "validation_fraction": 0.25, "test_fraction": 0.2})
    prompts = [{e["prompt"] for e in part} for part in (train, validation, test)]
    assert not prompts[0] & prompts[1] and not prompts[0] & prompts[2] and not prompts[1] & prompts[2]
    assert all(len(part) % 3 == 0 for part in (train, validation, test))  # groups stay whole
    assert len(train) + len(validation) + len(test) == 90
    # Whole groups of 3 are taken until each label's share is reached: A wants round(60 * .25) = 15 (5 groups),
    # B wants round(30 * .25) = 8, so it takes 3 groups = 9; test: A 12 (4 groups), B 6 (2 groups).
    assert Counter(e["label"] for e in validation) == {"A": 15, "B": 9}
    assert Counter(e["label"] for e in test) == {"A": 12, "B": 6}


def test_duplicate_prompt_with_mixed_labels_goes_with_its_most_common_label():
    examples = _examples({"A": 10, "B": 10})
    examples += [{"id": f"dup-{i}", "prompt": "same prompt", "label": label}
                 for i, label in enumerate(["B", "A", "A"])]
    for seed in range(5):
        train, validation, _, summary = split_train_validation(examples, {"seed": seed, "validation_fraction": 0.3})
        sides = [name for name, part in (("train", train), ("validation", validation))
                 if any(e["prompt"] == "same prompt" for e in part)]
        assert len(sides) == 1
        assert sum(1 for e in [*train, *validation] if e["prompt"] == "same prompt") == 3


def test_too_few_rows_is_an_input_error():
    # A non-zero fraction always yields at least one validation row, so two rows still split 1/1 ...
    train, validation, _, _ = split_train_validation(_examples({"A": 2}), {"seed": 1, "validation_fraction": 0.1})
    assert (len(train), len(validation)) == (1, 1)
    # ... but a single row cannot feed both sides.
    with pytest.raises(InputDataError, match="too few to split"):
        split_train_validation(_examples({"A": 1}), {"seed": 1, "validation_fraction": 0.1})
    with pytest.raises(InputDataError, match="too few to split"):
        split_train_validation(_examples({"A": 1}), {"seed": 1, "validation_fraction": 0.9})
    with pytest.raises(InputDataError, match="no examples"):
        split_train_validation([], {"seed": 1, "validation_fraction": 0.5})


def test_stratify_is_off_when_examples_have_no_label():
    examples = [{"id": str(i), "prompt": f"p{i}"} for i in range(40)]
    train, validation, test, summary = split_train_validation(examples, {"seed": 5, "validation_fraction": 0.25,
                                                                         "stratify": True})
    assert summary["stratified"] is False
    assert summary["labels"] == {"train": {}, "validation": {}, "test": {}}
    assert (len(train), len(validation), len(test)) == (30, 10, 0)


def test_stratify_false_ignores_labels():
    examples = _examples({"A": 95, "B": 5})
    _, validation, _, summary = split_train_validation(examples, {"seed": 5, "validation_fraction": 0.1,
                                                                  "stratify": False})
    assert summary["stratified"] is False
    assert len(validation) == 10


def test_test_fraction_gives_a_disjoint_test_split():
    examples = _examples({"A": 50, "B": 30})
    train, validation, test, summary = split_train_validation(
        examples, {"seed": 11, "validation_fraction": 0.1, "test_fraction": 0.2})
    ids = [set(_ids(part)) for part in (train, validation, test)]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]
    assert ids[0] | ids[1] | ids[2] == set(_ids(examples))
    # round(50 * .1) = 5, round(30 * .1) = 3; round(50 * .2) = 10, round(30 * .2) = 6
    assert Counter(e["label"] for e in validation) == {"A": 5, "B": 3}
    assert Counter(e["label"] for e in test) == {"A": 10, "B": 6}
    assert (summary["train"], summary["validation"], summary["test"]) == (56, 8, 16)


def test_bad_split_params_are_a_config_error():
    with pytest.raises(ConfigError, match="split.validation_fraction"):
        split_train_validation(_examples({"A": 10}), {"validation_fraction": 0})


def test_many_small_labels_still_get_a_validation_set():
    examples = _examples({label: 3 for label in "ABCDEFG"})  # 21 rows, 13.34% -> about 3 validation rows
    _, validation, _, _ = split_train_validation(examples, {"seed": 1, "validation_fraction": 0.1334})
    assert 2 <= len(validation) <= 4
