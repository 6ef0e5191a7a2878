"""Validate every raw row and give it a stable content-hash id."""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from typing import Any

from slmops.config import DataParams, TemplateParams, parse
from slmops.datasets.raw_records import RawRecords
from slmops.errors import InputDataError
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


def _records_of(raw: RawRecords, params: DataParams, used: dict[str, str], split: str | None) -> list[dict[str, Any]]:
    if not raw.rows:
        what = f"the {split} set (data.{split})" if split else "the dataset"
        raise InputDataError(raw.source, f"{what} is empty: no rows; add rows or point data.{split or 'source'} "
                             "at another file")
    records, first_line_of_id = [], {}
    duplicates: list[tuple[int, int]] = []
    for index, row in enumerate(raw.rows):
        line = raw.where(index)
        _check_row(raw, line, row, params.required_fields, used)
        record = dict(row)
        if "id" in record:  # keep the user's own id, under a name that cannot clash with ours
            record["source_id"] = record.pop("id")
        record["id"] = content_id(row)
        record["source_line"] = line
        if split:
            record["source_split"] = split
        if record["id"] in first_line_of_id:
            duplicates.append((first_line_of_id[record["id"]], line))
        first_line_of_id.setdefault(record["id"], line)
        records.append(record)
    if duplicates:
        first, again = duplicates[0]
        unit = raw.row_unit + "s"
        warn_user(f"{raw.source}, {unit} {first} and {again}: the same row twice ({len(duplicates)} duplicate "
                  f"row(s) in all); kept, and each copy lands on the same side of the split; remove them if "
                  "they are mistakes")
    return records


def validate_records(raw_records: RawRecords, data_params: dict[str, Any],
                     template_params: dict[str, Any] | None = None, raw_validation_records: RawRecords | None = None,
                     raw_test_records: RawRecords | None = None) -> list[dict[str, Any]]:
    """Keep each row's original fields, add ``id`` and ``source_line``, stop at the first bad row.

    The fields the template uses are checked here too, so a template typo stops the first stage that
    reads the data. Rows of a validation/test set the user gave carry ``source_split``.
    """
    params: DataParams = parse(DataParams, data_params, "data")
    used = parse(TemplateParams, template_params, "template").fields_used() if template_params else {}
    records = _records_of(raw_records, params, used, None)
    for split, raw in (("validation", raw_validation_records), ("test", raw_test_records)):
        if raw is not None:
            records += _records_of(raw, params, used, split)
    return records
