"""Rows that repeat, found from one number per row (a hash), so the data stages keep no rows to find them."""

from __future__ import annotations

import numpy as np


def repeated(values: np.ndarray) -> np.ndarray:
    """Positions, ascending, of the entries whose value occurs more than once.

    Costs one sorted copy of ``values`` and a bit per entry: rows that repeat are usually few, so what the
    caller does with them afterwards is small.
    """
    ordered = np.sort(values)
    twice = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    del ordered
    if not len(twice):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(twice[np.searchsorted(twice, values).clip(max=len(twice) - 1)] == values)


def grouped(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An order that puts equal values together (each group in its original order), and a flag per entry of
    that order: True where a group starts."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    return order, np.r_[True, ordered[1:] != ordered[:-1]][: len(order)]
