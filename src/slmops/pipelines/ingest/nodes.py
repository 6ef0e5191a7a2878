"""Validate every raw row and give it a stable content-hash id."""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from array import array
from collections.abc import Iterator
from typing import Any

import numpy as np

from slmops.config import DataParams, TemplateParams, parse
from slmops.datasets.raw_records import RawRecords
from slmops.errors import InputDataError
from slmops.modeling.repeats import grouped, repeated
from slmops.notices import warn_user


def content_id(row: dict[str, Any]) -> str:
    """Hash of the row's content, independent of key order and of its position in the file."""
    canonical = json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and math.isnan(value))


def _check_row(raw: RawRecords, line: int, row: dict[str, Any], required: list[str], used: dict[str, str]) -> None:
    def fail(field: str, message: str) -> None:
        raise InputDataError(raw.source, message, line=line, field=field, unit=raw.row_unit)

    has = ", ".join(map(str, row)) or "nothing"
    for field in required:
        if field not in row:
            fail(field, f"missing required field (row has: {has}); add it or remove the row")
        if _is_blank(row[field]):
            fail(field, "required field is empty; fill it or remove the row")
    for field, key in used.items():
        if field not in row:
            hint = difflib.get_close_matches(field, [str(k) for k in row], n=1)
            fix = f"did you mean '{hint[0]}'? fix {key}" if hint else f"fix {key} or add the field"
            fail(field, f"missing a field {key} uses (row has: {has}); {fix}")
        value = row[field]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            fail(field, f"is null but {key} uses it; give it a value or remove the row")
        if isinstance(value, (list, dict)):
            fail(field, f"is a JSON {'array' if isinstance(value, list) else 'object'}, not text: {key} takes "
                        "strings, numbers or booleans; flatten it in the data")


def _lone_surrogate(value: Any) -> str | None:
    if isinstance(value, str):
        return next((c for c in value if "\ud800" <= c <= "\udfff"), None)
    items = [*value.keys(), *value.values()] if isinstance(value, dict) else value if isinstance(value, list) else []
    return next(filter(None, map(_lone_surrogate, items)), None)


def _surrogate_error(raw: RawRecords, line: int, row: dict[str, Any]) -> InputDataError:
    key, char = next(((k, _lone_surrogate(k) or _lone_surrogate(v)) for k, v in row.items()
                      if _lone_surrogate(k) or _lone_surrogate(v)), (None, "\ud800"))
    field = None if key is None else str(key).encode("utf-8", "backslashreplace").decode("utf-8")  # printable
    return InputDataError(raw.source, f"holds \\u{ord(char):04x}, half of a UTF-16 surrogate pair and no character "
                          "by itself; write the character itself or its whole pair (like \\ud83d\\ude00), or "
                          "remove it", line=line, field=field, unit=raw.row_unit)


def _records_of(raw: RawRecords, params: DataParams, used: dict[str, str], split: str | None,
                ) -> Iterator[dict[str, Any]]:
    # Per row only its id and line are kept (16 bytes), to find duplicates once every row has gone by.
    ids, lines = array("Q"), array("q")
    for line, row in raw:
        _check_row(raw, line, row, params.required_fields, used)
        record = dict(row)
        if "id" in record:  # keep the user's own id, under a name that cannot clash with ours
            record["source_id"] = record.pop("id")
        try:
            record["id"] = content_id(row)
        except UnicodeEncodeError:  # a JSON "\ud800" escape decodes to a lone surrogate, which no file can hold
            raise _surrogate_error(raw, line, row) from None
        record["source_line"] = line
        if split:
            record["source_split"] = split
        ids.append(int(record["id"], 16))
        lines.append(line)
        yield record
    if not ids:
        what = f"the {split} set (data.{split})" if split else "the dataset"
        raise InputDataError(raw.source, f"{what} is empty: no rows; add rows or point data.{split or 'source'} "
                             "at another file")
    _warn_duplicates(raw, ids, lines)


def _warn_duplicates(raw: RawRecords, ids: array, lines: array) -> None:
    """Name the first row that repeats an earlier one, and that earlier row."""
    every_id = np.frombuffer(ids, dtype=np.uint64)
    candidates = repeated(every_id)  # rows whose content occurs more than once, in file order
    if not len(candidates):
        return
    order, starts = grouped(every_id[candidates])
    repeats = candidates[order[~starts]]
    again = int(repeats.min())
    first = int(candidates[np.flatnonzero(every_id[candidates] == every_id[again])[0]])
    unit = raw.row_unit + "s"
    warn_user(f"{raw.source}, {unit} {lines[first]} and {lines[again]}: the same row twice ({len(repeats)} "
              "duplicate row(s) in all); kept, and each copy lands on the same side of the split; remove them if "
              "they are mistakes")


def validate_records(raw_records: RawRecords, data_params: dict[str, Any],
                     template_params: dict[str, Any] | None = None, raw_validation_records: RawRecords | None = None,
                     raw_test_records: RawRecords | None = None) -> Iterator[dict[str, Any]]:
    """Keep each row's original fields, add ``id`` and ``source_line``, stop at the first bad row.

    Streamed: params are checked now, rows as the records are saved, one at a time. The fields the
    template uses are checked here too, so a template typo stops the first stage that reads the data.
    Rows of a validation/test set the user gave carry ``source_split``.
    """
    params: DataParams = parse(DataParams, data_params, "data")
    used = parse(TemplateParams, template_params, "template").fields_used() if template_params else {}
    parts = [(None, raw_records), ("validation", raw_validation_records), ("test", raw_test_records)]
    return (record for split, raw in parts if raw is not None for record in _records_of(raw, params, used, split))
