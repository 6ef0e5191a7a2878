"""Rows picked out of the examples by position, read when they are iterated, so the split holds no rows."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np


class RowFile(Protocol):
    """Rows that can be read again, in order or by position (``slmops.datasets.jsonl_stream.JSONLinesFile``)."""

    def __iter__(self) -> Iterator[dict[str, Any]]: ...

    def rows_at(self, positions: Iterable[int]) -> Iterator[dict[str, Any]]: ...


Rows = RowFile | Sequence[dict[str, Any]]


def rows_at(rows: Rows, positions: Iterable[int]) -> Iterator[dict[str, Any]]:
    if isinstance(rows, Sequence):  # rows already in memory (tests, callers with a list)
        return (rows[int(i)] for i in positions)
    return rows.rows_at(int(i) for i in positions)


class Selection(Sequence):
    """The rows of ``rows`` at ``positions``, in that order; only the positions live in memory."""

    def __init__(self, rows: Rows, positions: np.ndarray):
        self._rows, self.positions = rows, positions

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):  # a list of those rows
            return list(rows_at(self._rows, self.positions[index]))
        return next(rows_at(self._rows, [self.positions[index]]))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return rows_at(self._rows, self.positions)

    def __repr__(self) -> str:
        return f"Selection({len(self)} rows)"
