"""The user's raw dataset, in whatever format it comes: JSONL, JSON, CSV, Parquet or HF datasets."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from slmops.datasets.framing import inner_suffix, text_lines
from slmops.datasets.jsonl_stream import JSONLinesFile
from slmops.errors import InputDataError

_SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


@dataclass(frozen=True)
class RawRecords:
    """Rows as read, each with what a user needs to find it again: its 1-based line (files) or row (tables).

    Iterating gives (number, row) pairs and reads the source again each time: JSONL and CSV files stream
    row by row, never held whole; whole-document formats (JSON, Parquet, HF datasets) are held as loaded.
    """

    source: str
    numbered: Callable[[], Iterator[tuple[int, dict[str, Any]]]]
    row_unit: str  # "line" or "row"

    @classmethod
    def of(cls, source: str, rows: Sequence[dict[str, Any]], row_numbers: Sequence[int], row_unit: str) -> RawRecords:
        """Rows already in memory."""
        return cls(source, lambda: zip(row_numbers, rows, strict=True), row_unit)

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        return self.numbered()

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every row, read whole: for small data and tests, never in a stage."""
        return [row for _, row in self.numbered()]

    @property
    def row_numbers(self) -> list[int]:
        return [number for number, _ in self.numbered()]


def detect_format(source: str, declared: str) -> str:
    if declared != "auto":
        return declared
    path = Path(source)
    if path.is_dir():
        return "hf_disk"
    if inner_suffix(path) in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[inner_suffix(path)]
    if not path.exists() and "/" in source and not source.startswith((".", "/", "~")) and path.suffix == "":
        return "hf_hub"
    raise InputDataError(source, "file not found" if not path.exists() else
                         f"cannot tell the format from '{''.join(path.suffixes)}'; set data.format in params.yaml "
                         "(jsonl, json, csv, parquet), or rename the file")


def _read_json(path: Path) -> RawRecords:
    text = "".join(line for _, line in text_lines(path))
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputDataError(str(path), f"malformed JSON ({error.msg} at column {error.colno}); fix the file, "
                             "or set data.format: jsonl if it holds one object per line", line=error.lineno) from None
    except RecursionError:
        raise InputDataError(str(path), "JSON nested too deeply; the file must be an array of flat objects") from None
    if isinstance(document, dict) and len(document) == 1 and isinstance(next(iter(document.values())), list):
        document = next(iter(document.values()))  # {"data": [...]} style files
    if not isinstance(document, list):
        raise InputDataError(str(path), "expected a JSON array of objects, like [{\"text\": ...}, ...]")
    for index, row in enumerate(document, start=1):
        if not isinstance(row, dict):
            kind = "null" if row is None else type(row).__name__
            raise InputDataError(str(path), f"expected an object, got {kind}; fix or remove it", line=index,
                                 unit="item")
    return RawRecords.of(str(path), document, range(1, len(document) + 1), "row")


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    import csv

    lines = (line for _, line in text_lines(path))
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if header is None:
            return
        if len(set(header)) != len(header) or any(not name.strip() for name in header):
            raise InputDataError(str(path), f"the header row needs distinct, non-empty column names (got {header})",
                                 line=1)
        start = reader.line_num + 1
        for values in reader:
            if values and len(values) != len(header):
                raise InputDataError(str(path), f"{len(values)} values for {len(header)} columns "
                                     f"({', '.join(header)}); quote values that hold commas", line=start)
            if values:
                yield start, dict(zip(header, values, strict=True))  # the line the row starts on, also
            start = reader.line_num + 1                              # for quoted multi-line cells
    except csv.Error as error:
        raise InputDataError(str(path), f"malformed CSV ({error})", line=reader.line_num) from None


def _read_parquet(path: Path) -> RawRecords:
    import pandas as pd

    if not path.is_file():
        raise InputDataError(str(path), "file not found")
    try:
        rows = pd.read_parquet(path).to_dict(orient="records")
    except Exception as error:  # pyarrow raises many types; the user needs the file named
        raise InputDataError(str(path), f"cannot read as Parquet: {error}") from None
    return RawRecords.of(str(path), rows, range(1, len(rows) + 1), "row")


def _read_hf(source: str, kind: str, split: str | None) -> RawRecords:
    import datasets

    try:
        if kind == "hf_hub":
            # All splits (from the local cache when offline); the slice is applied below, the same
            # way for hub and disk datasets, so row numbers point into the whole split.
            loaded = datasets.load_dataset(source)
        else:
            loaded = datasets.load_from_disk(source)
    except Exception as error:
        raise InputDataError(source, f"cannot load the Hugging Face dataset: {error}") from None
    if isinstance(loaded, datasets.DatasetDict):
        if split is None:
            raise InputDataError(source, f"holds splits {sorted(loaded)}; set data.hf_split (e.g. 'train' or 'train[:1000]')")
        parts = dict(loaded)
    else:
        if split is None:
            rows = loaded.to_list()
            return RawRecords.of(source, rows, range(1, len(rows) + 1), "row")
        # One saved split: whatever name the spec uses, it slices this one.
        parts = {split.split("[", 1)[0]: loaded}
    try:
        absolute = datasets.ReadInstruction.from_spec(split).to_absolute({k: len(v) for k, v in parts.items()})
    except Exception as error:
        raise InputDataError(source, f"bad data.hf_split '{split}': {error}") from None
    rows, numbers = [], []
    for instruction in absolute:
        rows.extend(parts[instruction.splitname].select(range(instruction.from_, instruction.to)).to_list())
        numbers.extend(range(instruction.from_ + 1, instruction.to + 1))  # rows keep their place in the split
    return RawRecords.of(source, rows, numbers, "row")


def read_raw_records(source: str, declared_format: str = "auto", hf_split: str | None = None) -> RawRecords:
    kind = detect_format(source, declared_format)
    if kind in ("jsonl", "csv"):  # streamed: read row by row each time the stage iterates
        path = Path(source)
        if not path.is_file():
            raise InputDataError(str(path), "file not found")
        if kind == "jsonl":
            return RawRecords(source, JSONLinesFile(path).numbered, "line")
        return RawRecords(str(path), lambda: _csv_rows(path), "line")
    if kind == "json":
        return _read_json(Path(source))
    if kind == "parquet":
        return _read_parquet(Path(source))
    return _read_hf(source, kind, hf_split)


class RawRecordsDataset(AbstractDataset[None, "RawRecords | None"]):
    """Read-only: the raw data is the user's, never overwritten.

    With a ``role`` (validation, test) this is a split the user may give (params ``data.<role>``,
    passed as ``given``): ``None`` when not given; its source defaults to the main one.
    """

    def __init__(self, source: str, format: str = "auto", hf_split: str | None = None,  # noqa: A002 - catalog key
                 role: str | None = None, given: dict[str, Any] | None = None):
        if given:
            source, format, hf_split = (given.get("source") or source, given.get("format") or "auto",
                                        given.get("hf_split"))
        self._source, self._format, self._hf_split = str(source), format, hf_split
        self._absent = role is not None and not given

    def load(self) -> RawRecords | None:
        if self._absent:
            return None
        return read_raw_records(self._source, self._format, self._hf_split)

    def save(self, data: None) -> None:
        raise NotImplementedError("raw data is read-only")

    def _describe(self) -> dict[str, Any]:
        return {"source": self._source, "format": self._format, "hf_split": self._hf_split, "absent": self._absent}
