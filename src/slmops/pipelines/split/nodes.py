"""Deterministic train/validation/test split: by hash and seed, stratified, duplicates kept together."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from typing import Any

from slmops.config import SplitParams, parse
from slmops.errors import InputDataError


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


def split_train_validation(examples: list[dict[str, Any]], split_params: dict[str, Any]
                           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Return train, validation, test examples and a summary of the split.

    Rows with the same prompt form one group, so an exact duplicate never sits on both sides.
    Within each label (stratum) groups are ordered by sha256(seed:prompt) and the first ones,
    up to the fraction's share of that label's rows, go to validation, then test.
    """
    params: SplitParams = parse(SplitParams, split_params, "split")
    if not examples:
        raise InputDataError("data/03_primary/examples.jsonl", "no examples to split")
    stratified = params.stratify and all("label" in e for e in examples)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for example in examples:
        groups[example["prompt"]].append(example)
    strata: dict[str, list[list[dict[str, Any]]]] = defaultdict(list)
    for rows in groups.values():
        # A duplicated prompt with mixed labels goes with its most common label.
        label = Counter(r["label"] for r in rows).most_common(1)[0][0] if stratified else "all"
        strata[label].append(rows)

    sizes = {label: sum(len(rows) for rows in label_groups) for label, label_groups in strata.items()}
    want_validation = allocate(sizes, params.validation_fraction)
    want_test = allocate(sizes, params.test_fraction)
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
    if not train or not validation:
        raise InputDataError("data/03_primary/examples.jsonl",
                             f"{len(examples)} examples are too few to split (train {len(train)}, "
                             f"validation {len(validation)}): add rows or change split.validation_fraction")

    def by_label(rows: list[dict[str, Any]]) -> dict[str, int]:
        return dict(sorted(Counter(r["label"] for r in rows).items())) if stratified else {}

    summary = {"train": len(train), "validation": len(validation), "test": len(test), "stratified": stratified,
               "labels": {"train": by_label(train), "validation": by_label(validation), "test": by_label(test)}}
    return train, validation, test, summary
