"""JSON Lines files of records: one dict per line, written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from slmops.datasets.atomic import atomic_file
from slmops.errors import InputDataError


def read_jsonl_numbered(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows of a JSON Lines file and the line each came from (blank lines skipped, not renumbered).

    Malformed or non-object rows stop the read, naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(str(path), "file not found")
    rows, numbers = [], []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputDataError(str(path), f"malformed JSON ({error.msg} at column {error.colno})",
                                     line=number) from None
            if not isinstance(row, dict):
                raise InputDataError(str(path), f"expected a JSON object, got {type(row).__name__}", line=number)
            rows.append(row)
            numbers.append(number)
    return rows, numbers


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return read_jsonl_numbered(path)[0]


class JSONLinesDataset(AbstractDataset[list[dict[str, Any]], list[dict[str, Any]]]):
    def __init__(self, filepath: str):
        self._filepath = Path(filepath)

    def load(self) -> list[dict[str, Any]]:
        return read_jsonl(self._filepath)

    def save(self, data: list[dict[str, Any]]) -> None:
        with atomic_file(self._filepath) as handle:
            for row in data:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
