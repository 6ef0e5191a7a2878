"""Deterministic train/validation/test split: by hash and seed, stratified, duplicates kept together.

Streamed: one pass over the examples keeps a few bytes a row (the prompt's rank, the label's number, which
set the user gave the row in); the sides are decided from those, and each output reads its rows back by
position as it is saved. No row is held in memory.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from slmops.config import DataParams, SplitParams, parse
from slmops.errors import InputDataError
from slmops.notices import warn_user
from slmops.pipelines.split.selection import Rows, Selection, rows_at

EXAMPLES = "data/03_primary/examples.jsonl"
GIVEN = (None, "validation", "test")  # source_split of a row: carved out here, or from a set the user gave
NO_LABEL = -1


def prompt_rank(seed: int, prompt: str) -> int:
    """A prompt's place in the order: sha256(seed:prompt), its first 8 bytes big-endian, so integer order
    is the order of the hex digests. Equal prompts (duplicates) share it and stay together."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{prompt}".encode()).digest()[:8], "big")


def allocate(sizes: dict[str, int], fraction: float) -> dict[str, int]:
    """Rows per stratum for a fraction of the whole, by largest remainder.

    Rounding each stratum on its own would give small labels nothing (round(3 * 0.13) == 0) and
    miss the total; this hits round(total * fraction), at least 1 row when the fraction is non-zero.
    """
    total = sum(sizes.values())
    if fraction <= 0 or total == 0:
        return {key: 0 for key in sizes}
    target = max(1, round(total * fraction))
    exact = {key: size * fraction for key, size in sizes.items()}
    counts = {key: int(value) for key, value in exact.items()}
    by_remainder = sorted(sizes, key=lambda key: (-(exact[key] - counts[key]), key))
    for key in by_remainder[: target - sum(counts.values())]:
        counts[key] += 1
    return counts


@dataclass
class RowKeys:
    """What the split knows of each row, by position: 13 bytes instead of the row."""

    ranks: np.ndarray  # uint64: prompt_rank
    labels: np.ndarray  # int32: index into label_names, NO_LABEL for a row without one
    given: np.ndarray  # int8: index into GIVEN
    label_names: list[Any]


def row_keys(examples: Rows, seed: int) -> RowKeys:
    ranks, labels, given, numbers = array("Q"), array("i"), array("b"), {}
    for example in examples:
        ranks.append(prompt_rank(seed, example["prompt"]))
        labels.append(numbers.setdefault(example["label"], len(numbers)) if "label" in example else NO_LABEL)
        given.append(GIVEN.index(example.get("source_split")))
    return RowKeys(np.frombuffer(ranks, dtype=np.uint64), np.frombuffer(labels, dtype=np.int32),
                   np.frombuffer(given, dtype=np.int8), list(numbers))


def _carve(keys: RowKeys, params: SplitParams, stratified: bool, carve_validation: bool,
           carve_test: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of the train, validation and test rows among the rows the user did not assign.

    Rows with the same prompt form a group. Within each label (stratum, by name) groups go in rank
    order: to validation until its share of that label is reached, then to test, then to train. Each
    output lists labels by name, groups by rank, a group's rows in file order. Worked on per row, with
    4-byte positions, so the cost is a few arrays of the row count.
    """
    rows = np.argsort(keys.ranks, kind="stable").astype(np.int32)  # groups by rank, their rows in file order
    rows = rows[keys.given[rows] == 0]
    ranks = keys.ranks[rows]
    starts = np.r_[True, ranks[1:] != ranks[:-1]][: len(rows)]  # True on each group's first row
    del ranks
    names = keys.label_names if stratified else ["all"]
    labels = keys.labels[rows] if stratified else np.zeros(len(rows), dtype=np.int32)
    begins = np.flatnonzero(starts)
    ends = np.r_[begins[1:], len(rows)]
    for begin, end in zip(begins[ends - begins > 1], ends[ends - begins > 1], strict=True) if stratified else ():
        # A duplicated prompt with mixed labels goes with its most common label (the first seen on a tie).
        labels[begin:end] = Counter(labels[begin:end].tolist()).most_common(1)[0][0]
    present = sorted(set(np.unique(labels).tolist()), key=lambda label: names[label])
    label_order = np.zeros(len(names), dtype=np.int32)
    label_order[present] = np.arange(len(present), dtype=np.int32)
    strata = label_order[labels]
    del labels
    by_stratum = np.argsort(strata, kind="stable")  # strata by name; within one, groups stay whole, by rank
    rows, starts, strata = rows[by_stratum], starts[by_stratum], strata[by_stratum]
    del by_stratum
    sizes = np.bincount(strata, minlength=len(present))
    stratum_sizes = {names[label]: int(sizes[k]) for k, label in enumerate(present)}
    want_validation = allocate(stratum_sizes, params.validation_fraction if carve_validation else 0.0)
    want_test = allocate(stratum_sizes, params.test_fraction if carve_test else 0.0)
    wanted = np.array([[want_validation[names[label]], want_test[names[label]]] for label in present],
                      dtype=np.int64).reshape(-1, 2)
    # Rows of its stratum before each row's group: the greedy walk's count when it reaches that group.
    index = np.arange(len(rows), dtype=np.int32)
    before = np.maximum.accumulate(np.where(starts, index, 0)) - (np.cumsum(sizes) - sizes)[strata]
    del index, starts
    to_validation = before < wanted[strata, 0]
    taken = np.bincount(strata[to_validation], minlength=len(present))
    to_test = ~to_validation & (before - taken[strata] < wanted[strata, 1])
    return rows[~to_validation & ~to_test], rows[to_validation], rows[to_test]


def split_train_validation(examples: Rows, split_params: dict[str, Any], data_params: dict[str, Any] | None = None,
                           ) -> tuple[Selection, Selection, Selection, dict[str, Any]]:
    """Return train, validation, test examples (read from ``examples`` as they are saved) and a summary.

    Rows with the same prompt form one group, so an exact duplicate never sits on both sides.
    Within each label (stratum) groups are ordered by sha256(seed:prompt) and the first ones,
    up to the fraction's share of that label's rows, go to validation, then test. A validation or
    test set the user gave (``source_split``) is used as is and not carved out.
    """
    params: SplitParams = parse(SplitParams, split_params, "split")
    data = parse(DataParams, data_params, "data") if data_params else None
    source = data.source if data else EXAMPLES
    keys = row_keys(examples, params.seed)
    if not len(keys.ranks):
        raise InputDataError(source, "no examples to split; add rows")
    given_validation, given_test = np.flatnonzero(keys.given == 1), np.flatnonzero(keys.given == 2)
    stratified = params.stratify and not (keys.labels == NO_LABEL).any()
    train, validation, test = _carve(keys, params, stratified, not len(given_validation), not len(given_test))
    validation, test = np.r_[validation, given_validation], np.r_[test, given_test]
    if len(given_validation) or len(given_test):
        train = _drop_leaks(examples, keys, train, np.r_[given_validation, given_test], source)
    if not len(train) or not len(validation):
        empty = "train" if not len(train) else "validation"
        raise InputDataError(source, f"{len(keys.ranks)} examples are too few to split: the {empty} set would be "
                             f"empty (train {len(train)}, validation {len(validation)}); add rows or change "
                             "split.validation_fraction")
    if stratified:
        _warn_unseen_labels(examples, keys, train, validation, data)

    def by_label(part: np.ndarray) -> dict[str, int]:
        if not stratified:
            return {}
        counts = np.bincount(keys.labels[part], minlength=len(keys.label_names))
        return dict(sorted((keys.label_names[i], int(n)) for i, n in enumerate(counts) if n))

    summary = {"train": len(train), "validation": len(validation), "test": len(test), "stratified": stratified,
               "labels": {"train": by_label(train), "validation": by_label(validation), "test": by_label(test)}}
    return Selection(examples, train), Selection(examples, validation), Selection(examples, test), summary


def _drop_leaks(examples: Rows, keys: RowKeys, train: np.ndarray, given: np.ndarray, source: str) -> np.ndarray:
    """Training rows whose prompt is also in a given validation/test set would leak it: drop them."""
    leaked = np.isin(keys.ranks[train], keys.ranks[given])
    if leaked.any():
        first = next(rows_at(examples, train[leaked][:1]))
        warn_user(f"{source}, line {first['source_line']}: {int(leaked.sum())} training row(s) have a prompt that "
                  "is also in the validation/test set you gave; left out of training so they cannot leak")
    return train[~leaked]


def _warn_unseen_labels(examples: Rows, keys: RowKeys, train: np.ndarray, validation: np.ndarray,
                        data: DataParams | None) -> None:
    unseen = ~np.isin(keys.labels[validation], keys.labels[train])
    if unseen.any():
        example = next(rows_at(examples, validation[unseen][:1]))
        source = data.source_of(example.get("source_split")) if data else EXAMPLES
        labels = sorted({keys.label_names[i] for i in keys.labels[validation][unseen].tolist()})
        warn_user(f"{source}, line {example['source_line']}: label(s) {', '.join(repr(x) for x in labels)} are in "
                  "the validation set but never in training, so the model cannot learn them; add training rows "
                  "with them")
