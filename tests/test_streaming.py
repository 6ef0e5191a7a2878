"""ingest → template → split stream their rows: nothing holds the dataset, so memory stays flat as it grows.

The figures at scale (1M rows) come from benchmarks/ingest_scale.py; here, that each stage pulls rows one
at a time, that the split reads rows back by position, and that peak memory of the three stages on 10N
rows is within a small per-row bound of that on N rows.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import pytest

from slmops.datasets import JSONLinesDataset, RawRecordsDataset, StreamedJSONLinesDataset
from slmops.datasets.jsonl_stream import JSONLinesFile
from slmops.datasets.raw_records import RawRecords
from slmops.errors import InputDataError
from slmops.modeling.bundle import ModelBundle
from slmops.pipelines.ingest.nodes import validate_records
from slmops.pipelines.split.nodes import split_train_validation
from slmops.pipelines.template.nodes import apply_template

DATA = {"source": "raw.jsonl", "required_fields": ["text", "label"]}
TEMPLATE = {"system": "Classify.", "prompt": "{text}", "completion": "{label}", "label_field": "label"}
LABELS = ["PlayMusic", "GetWeather", "BookRestaurant", "AddToPlaylist"]


def _write(path: Path, count: int) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(count):
            handle.write(json.dumps({"text": f"play song number {i} by band {i % 97}", "label": LABELS[i % 4]}) + "\n")


def test_a_jsonl_file_is_read_again_on_each_pass_and_by_position(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 0}\n\n{"a": 1}\r\n  \n{"a": "\xc3\xa9"}\n')
    rows = JSONLinesFile(path)
    assert list(rows) == list(rows) == [{"a": 0}, {"a": 1}, {"a": "é"}]
    assert [n for n, _ in rows.numbered()] == [1, 3, 5]
    assert list(rows.rows_at([2, 0, 1, 2])) == [{"a": "é"}, {"a": 0}, {"a": 1}, {"a": "é"}]


def test_a_compressed_file_is_not_read_by_position(tmp_path):
    path = tmp_path / "rows.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"a": 0}\n'))
    assert list(JSONLinesFile(path)) == [{"a": 0}]
    with pytest.raises(InputDataError, match="is compressed, and its rows must be read by position"):
        list(JSONLinesFile(path).rows_at([0]))


def test_a_stream_that_fails_midway_leaves_the_previous_file(tmp_path):
    path = tmp_path / "records.jsonl"
    StreamedJSONLinesDataset(str(path)).save(iter([{"a": 1}]))

    def rows():
        yield {"a": 2}
        raise InputDataError("raw.jsonl", "malformed", line=2)

    with pytest.raises(Exception) as caught:  # noqa: PT011 - Kedro wraps it; the CLI prints the SlmopsError within
        StreamedJSONLinesDataset(str(path)).save(rows())
    assert "raw.jsonl, line 2: malformed" in str(caught.value)
    assert path.read_text() == '{"a": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["records.jsonl"]


def _counting(rows):
    pulled = [0]

    def numbered():
        for number, row in enumerate(rows, start=1):
            pulled[0] += 1
            yield number, row
    return numbered, pulled


def test_ingest_and_template_pull_one_row_per_row_they_give(smollm2_tokenizer):
    rows = [{"text": f"t{i}", "label": LABELS[i % 4]} for i in range(50)]
    numbered, pulled = _counting(rows)
    records = validate_records(RawRecords("raw.jsonl", numbered, "line"), DATA, TEMPLATE)
    assert pulled[0] == 0  # nothing read until the records are consumed (saved)
    examples = apply_template(records, TEMPLATE, DATA, ModelBundle(model=object(), tokenizer=smollm2_tokenizer))
    for given, example in enumerate(examples, start=1):
        assert pulled[0] == given, "a stage read ahead of what it gave"
        assert example["source_line"] == given
    assert pulled[0] == 50


def test_the_split_reads_rows_back_by_position_and_matches_the_in_memory_split(tmp_path):
    path = tmp_path / "examples.jsonl"
    examples = [{"id": str(i), "prompt": f"p{i % 40}", "label": LABELS[i % 3], "source_line": i + 1} for i in range(90)]
    JSONLinesDataset(str(path)).save(examples)
    params = {"seed": 3, "validation_fraction": 0.2, "test_fraction": 0.1}
    from_file = split_train_validation(StreamedJSONLinesDataset(str(path)).load(), params)
    in_memory = split_train_validation(examples, params)
    for streamed, listed in zip(from_file[:3], in_memory[:3], strict=True):
        assert streamed.positions.dtype.kind == "i"  # what the split holds: positions, no rows
        assert list(streamed) == list(listed)
    assert from_file[3] == in_memory[3]
    assert sum(len(part) for part in from_file[:3]) == 90


def _peak_bytes(folder: Path, count: int, tokenizer) -> int:
    """Peak traced allocations of ingest → template → split on ``count`` rows, through the catalog's datasets."""
    raw = folder / "raw.jsonl"
    _write(raw, count)
    data = {**DATA, "source": str(raw)}
    bundle = ModelBundle(model=object(), tokenizer=tokenizer)
    tracemalloc.start()
    try:
        records = validate_records(RawRecordsDataset(str(raw)).load(), data, TEMPLATE)
        StreamedJSONLinesDataset(str(folder / "records.jsonl")).save(records)
        records = StreamedJSONLinesDataset(str(folder / "records.jsonl")).load()
        examples = apply_template(records, TEMPLATE, data, bundle, max_length=256)
        StreamedJSONLinesDataset(str(folder / "examples.jsonl")).save(examples)
        examples = StreamedJSONLinesDataset(str(folder / "examples.jsonl")).load()
        train, validation, test, _ = split_train_validation(examples, {"seed": 1, "validation_fraction": 0.1}, data)
        for name, rows in (("train", train), ("validation", validation), ("test", test)):
            JSONLinesDataset(str(folder / f"{name}.jsonl")).save(rows)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_stays_flat_from_n_to_10n_rows(tmp_path, smollm2_tokenizer):
    small, large = 1_500, 15_000
    (tmp_path / "small").mkdir()
    (tmp_path / "large").mkdir()
    _peak_bytes(tmp_path / "small", 200, smollm2_tokenizer)  # warm up caches (regexes, templates) first
    base = _peak_bytes(tmp_path / "small", small, smollm2_tokenizer)
    grown = _peak_bytes(tmp_path / "large", large, smollm2_tokenizer)
    assert len((tmp_path / "large/train.jsonl").read_text().splitlines()) == large * 9 // 10
    # Held whole, a row costs about 1.5 KB here; streamed, only its keys (ids, hashes, offsets: tens of bytes).
    per_row = (grown - base) / (large - small)
    assert per_row < 200, f"{per_row:.0f} bytes more per row: a stage holds rows"
