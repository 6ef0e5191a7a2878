"""The user's raw dataset, in whatever format it comes: JSONL, JSON, CSV, Parquet or HF datasets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from slmops.datasets.jsonl import read_jsonl
from slmops.errors import InputDataError

_SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


@dataclass(frozen=True)
class RawRecords:
    """Rows as read, with what a user needs to find each one again."""

    source: str
    rows: list[dict[str, Any]]
    row_numbers: list[int]  # 1-based line (files) or row index (tables) of each row
    row_unit: str  # "line" or "row"

    def where(self, index: int) -> int:
        return self.row_numbers[index]


def detect_format(source: str, declared: str) -> str:
    if declared != "auto":
        return declared
    path = Path(source)
    if path.is_dir():
        return "hf_disk"
    if path.suffix.lower() in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[path.suffix.lower()]
    if not path.exists() and "/" in source and not source.startswith((".", "/")) and path.suffix == "":
        return "hf_hub"
    raise InputDataError(source, "file not found" if not path.exists() else
                         f"cannot tell the format from '{path.suffix}'; set data.format in params.yaml")


def _read_json(path: Path) -> RawRecords:
    if not path.is_file():
        raise InputDataError(str(path), "file not found")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputDataError(str(path), f"malformed JSON ({error.msg})", line=error.lineno) from None
    if isinstance(document, dict) and len(document) == 1 and isinstance(next(iter(document.values())), list):
        document = next(iter(document.values()))  # {"data": [...]} style files
    if not isinstance(document, list):
        raise InputDataError(str(path), "expected a JSON array of objects")
    for index, row in enumerate(document, start=1):
        if not isinstance(row, dict):
            raise InputDataError(str(path), f"item {index} is a {type(row).__name__}, expected an object")
    return RawRecords(str(path), document, list(range(1, len(document) + 1)), "row")


def _read_table(path: Path, kind: str) -> RawRecords:
    import pandas as pd

    if not path.is_file():
        raise InputDataError(str(path), "file not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False) if kind == "csv" else pd.read_parquet(path)
    except Exception as error:  # pandas raises many types; the user needs the file named
        raise InputDataError(str(path), f"cannot read as {kind}: {error}") from None
    rows = frame.to_dict(orient="records")
    # CSV line numbers: the header is line 1, so row i sits on line i + 1.
    first = 2 if kind == "csv" else 1
    return RawRecords(str(path), rows, list(range(first, first + len(rows))), "line" if kind == "csv" else "row")


def _read_hf(source: str, kind: str, split: str | None) -> RawRecords:
    import datasets

    try:
        if kind == "hf_hub":
            loaded = datasets.load_dataset(source, split=split)
        else:
            loaded = datasets.load_from_disk(source)
    except Exception as error:
        raise InputDataError(source, f"cannot load the Hugging Face dataset: {error}") from None
    if isinstance(loaded, datasets.DatasetDict):
        if split is None:
            raise InputDataError(source, f"holds splits {sorted(loaded)}; set data.hf_split (e.g. 'train' or 'train[:1000]')")
        instruction = datasets.ReadInstruction.from_spec(split)
        sizes = {name: len(part) for name, part in loaded.items()}
        try:
            absolute = instruction.to_absolute(sizes)
        except Exception as error:
            raise InputDataError(source, f"bad data.hf_split '{split}': {error}") from None
        parts = [loaded[a.splitname].select(range(a.from_, a.to)) for a in absolute]
        loaded = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    rows = loaded.to_list()
    return RawRecords(source, rows, list(range(1, len(rows) + 1)), "row")


def read_raw_records(source: str, declared_format: str = "auto", hf_split: str | None = None) -> RawRecords:
    kind = detect_format(source, declared_format)
    if kind == "jsonl":
        path = Path(source)
        rows, numbers = [], []
        if not path.is_file():
            raise InputDataError(source, "file not found")
        # read_jsonl skips blank lines; recount so each row keeps its true line number.
        with open(path, encoding="utf-8") as handle:
            numbers = [n for n, line in enumerate(handle, start=1) if line.strip()]
        rows = read_jsonl(path)
        return RawRecords(source, rows, numbers, "line")
    if kind == "json":
        return _read_json(Path(source))
    if kind in ("csv", "parquet"):
        return _read_table(Path(source), kind)
    return _read_hf(source, kind, hf_split)


class RawRecordsDataset(AbstractDataset[None, RawRecords]):
    """Read-only: the raw data is the user's, never overwritten."""

    def __init__(self, source: str, format: str = "auto", hf_split: str | None = None):  # noqa: A002 - catalog key
        self._source, self._format, self._hf_split = str(source), format, hf_split

    def load(self) -> RawRecords:
        return read_raw_records(self._source, self._format, self._hf_split)

    def save(self, data: None) -> None:
        raise NotImplementedError("raw data is read-only")

    def _describe(self) -> dict[str, Any]:
        return {"source": self._source, "format": self._format, "hf_split": self._hf_split}
