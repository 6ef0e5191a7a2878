"""Validate every raw row and give it a stable content-hash id."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from slmops.config import DataParams, parse
from slmops.datasets.raw_records import RawRecords
from slmops.errors import InputDataError


def content_id(row: dict[str, Any]) -> str:
    """Hash of the row's content, independent of key order and of its position in the file."""
    canonical = json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and math.isnan(value))


def validate_records(raw_records: RawRecords, data_params: dict[str, Any]) -> list[dict[str, Any]]:
    """Keep each row's original fields, add ``id`` (and ``source_line``), stop at the first bad row."""
    params: DataParams = parse(DataParams, data_params, "data")
    if not raw_records.rows:
        raise InputDataError(raw_records.source, "the dataset is empty: no rows to train on")
    records = []
    for index, row in enumerate(raw_records.rows):
        line = raw_records.where(index)
        for field in params.required_fields:
            if field not in row:
                raise InputDataError(raw_records.source, f"missing required field (row has: {', '.join(map(str, row)) or 'nothing'})",
                                     line=line, field=field, unit=raw_records.row_unit)
            if _is_blank(row[field]):
                raise InputDataError(raw_records.source, "required field is empty", line=line, field=field,
                                     unit=raw_records.row_unit)
        record = dict(row)
        if "id" in record:  # keep the user's own id, under a name that cannot clash with ours
            record["source_id"] = record.pop("id")
        record["id"] = content_id(row)
        record["source_line"] = line
        records.append(record)
    return records
