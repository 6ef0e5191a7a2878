"""JSON Lines files of records: one dict per line, written atomically."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from slmops.datasets.atomic import atomic_file
from slmops.datasets.framing import text_lines
from slmops.errors import InputDataError, SlmopsError


def read_jsonl_numbered(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows of a JSON Lines file and the line each came from (blank lines skipped, not renumbered).

    Malformed or non-object rows stop the read, naming the file and line and what to do.
    """
    path = Path(path)
    rows, numbers = [], []
    for number, line in text_lines(path):
        if not line.strip():
            continue
        row = parse_json_line(str(path), number, line)
        rows.append(row)
        numbers.append(number)
    return rows, numbers


def parse_json_line(source: str, number: int, line: str) -> dict[str, Any]:
    try:
        row = json.loads(line.rstrip("\r\n"))  # so a cut-off line's column points into it
    except json.JSONDecodeError as error:
        raise InputDataError(source, f"malformed JSON ({error.msg} at column {error.colno}); each line must be "
                             "one JSON object: fix or remove the line", line=number) from None
    except RecursionError:
        raise InputDataError(source, "JSON nested too deeply to be a record; each line must be one flat "
                             "JSON object", line=number) from None
    if not isinstance(row, dict):
        kind = "null" if row is None else type(row).__name__
        raise InputDataError(source, f"expected a JSON object like {{\"text\": ...}}, got {kind}; "
                             "fix or remove the line", line=number)
    return row


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return read_jsonl_numbered(path)[0]


class JSONLinesDataset(AbstractDataset[list[dict[str, Any]], list[dict[str, Any]]]):
    def __init__(self, filepath: str):
        self._filepath = Path(filepath)

    def load(self) -> list[dict[str, Any]]:
        return read_jsonl(self._filepath)

    def save(self, data: list[dict[str, Any]]) -> None:
        try:
            with atomic_file(self._filepath) as handle:
                for row in data:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        except OSError as error:
            if error.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise
            raise SlmopsError(f"{self._filepath}: {error.strerror} while writing it; free disk space and rerun "
                              "(the previous file was left as it was)") from None

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
