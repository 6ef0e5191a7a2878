"""Deterministic train/validation/test split: by hash and seed, stratified, duplicates kept together."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from typing import Any

from slmops.config import DataParams, SplitParams, parse
from slmops.errors import InputDataError
from slmops.notices import warn_user

EXAMPLES = "data/03_primary/examples.jsonl"


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


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


def _carve(examples: list[dict[str, Any]], params: SplitParams, stratified: bool, carve_validation: bool,
           carve_test: bool) -> tuple[list, list, list]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for example in examples:
        groups[example["prompt"]].append(example)
    strata: dict[str, list[list[dict[str, Any]]]] = defaultdict(list)
    for rows in groups.values():
        # A duplicated prompt with mixed labels goes with its most common label.
        label = Counter(r["label"] for r in rows).most_common(1)[0][0] if stratified else "all"
        strata[label].append(rows)

    sizes = {label: sum(len(rows) for rows in label_groups) for label, label_groups in strata.items()}
    want_validation = allocate(sizes, params.validation_fraction if carve_validation else 0.0)
    want_test = allocate(sizes, params.test_fraction if carve_test else 0.0)
    train, validation, test = [], [], []
    for label in sorted(strata):
        ordered = sorted(strata[label], key=lambda rows: _rank(params.seed, rows[0]["prompt"]))
        taken_validation = taken_test = 0
        for rows in ordered:
            if taken_validation < want_validation[label]:
                validation.extend(rows)
                taken_validation += len(rows)
            elif taken_test < want_test[label]:
                test.extend(rows)
                taken_test += len(rows)
            else:
                train.extend(rows)
    return train, validation, test


def _drop_leaks(train: list[dict[str, Any]], given: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """Training rows whose prompt is also in a given validation/test set would leak it: drop them."""
    prompts = {e["prompt"] for e in given}
    leaked = [e for e in train if e["prompt"] in prompts]
    if leaked:
        warn_user(f"{source}, line {leaked[0]['source_line']}: {len(leaked)} training row(s) have a prompt that "
                  "is also in the validation/test set you gave; left out of training so they cannot leak")
    return [e for e in train if e["prompt"] not in prompts]


def split_train_validation(examples: list[dict[str, Any]], split_params: dict[str, Any],
                           data_params: dict[str, Any] | None = None,
                           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Return train, validation, test examples and a summary of the split.

    Rows with the same prompt form one group, so an exact duplicate never sits on both sides.
    Within each label (stratum) groups are ordered by sha256(seed:prompt) and the first ones,
    up to the fraction's share of that label's rows, go to validation, then test. A validation or
    test set the user gave (``source_split``) is used as is and not carved out.
    """
    params: SplitParams = parse(SplitParams, split_params, "split")
    data = parse(DataParams, data_params, "data") if data_params else None
    source = data.source if data else EXAMPLES
    if not examples:
        raise InputDataError(source, "no examples to split; add rows")
    own = [e for e in examples if "source_split" not in e]
    given_validation = [e for e in examples if e.get("source_split") == "validation"]
    given_test = [e for e in examples if e.get("source_split") == "test"]
    stratified = params.stratify and all("label" in e for e in examples)
    train, validation, test = _carve(own, params, stratified, not given_validation, not given_test)
    validation += given_validation
    test += given_test
    if given_validation or given_test:
        train = _drop_leaks(train, given_validation + given_test, source)
    if not train or not validation:
        empty = "train" if not train else "validation"
        raise InputDataError(source, f"{len(examples)} examples are too few to split: the {empty} set would be "
                             f"empty (train {len(train)}, validation {len(validation)}); add rows or change "
                             "split.validation_fraction")
    if stratified:
        _warn_unseen_labels(train, validation, data)

    def by_label(rows: list[dict[str, Any]]) -> dict[str, int]:
        return dict(sorted(Counter(r["label"] for r in rows).items())) if stratified else {}

    summary = {"train": len(train), "validation": len(validation), "test": len(test), "stratified": stratified,
               "labels": {"train": by_label(train), "validation": by_label(validation), "test": by_label(test)}}
    return train, validation, test, summary


def _warn_unseen_labels(train: list[dict[str, Any]], validation: list[dict[str, Any]], data: DataParams | None) -> None:
    known = {e["label"] for e in train}
    unseen = [e for e in validation if e["label"] not in known]
    if unseen:
        example = unseen[0]
        source = data.source_of(example.get("source_split")) if data else EXAMPLES
        labels = sorted({e["label"] for e in unseen})
        warn_user(f"{source}, line {example['source_line']}: label(s) {', '.join(repr(x) for x in labels)} are in "
                  "the validation set but never in training, so the model cannot learn them; add training rows "
                  "with them")
