"""Reading the user's raw data: JSONL, JSON, CSV, Parquet and HF datasets, with errors naming file and line."""

from __future__ import annotations

import json

import pytest

from slmops.datasets import RawRecordsDataset
from slmops.datasets.raw_records import read_raw_records
from slmops.errors import InputDataError

pytestmark = pytest.mark.fast  # in `make test-fast`


def test_jsonl_with_blank_lines_keeps_true_line_numbers(tmp_path):
    path = tmp_path / "raw.jsonl"
    path.write_text('{"text": "a", "label": "X"}\n\n   \n{"text": "b", "label": "Y"}\n{"text": "c", "label": "X"}\n',
                    encoding="utf-8")
    records = RawRecordsDataset(str(path)).load()
    assert records.rows == [{"text": "a", "label": "X"}, {"text": "b", "label": "Y"}, {"text": "c", "label": "X"}]
    assert records.row_numbers == [1, 4, 5]
    assert records.row_unit == "line"
    assert records.source == str(path)


def test_ndjson_suffix_reads_as_jsonl(tmp_path):
    path = tmp_path / "raw.ndjson"
    path.write_text('{"text": "a"}\n', encoding="utf-8")
    assert read_raw_records(str(path)).rows == [{"text": "a"}]


@pytest.mark.parametrize("wrapped", [False, True])
def test_json_array_and_data_wrapper(tmp_path, wrapped):
    rows = [{"text": "a", "label": "X"}, {"text": "b", "label": "Y"}]
    path = tmp_path / "raw.json"
    path.write_text(json.dumps({"data": rows} if wrapped else rows), encoding="utf-8")
    records = read_raw_records(str(path))
    assert records.rows == rows
    assert records.row_numbers == [1, 2]
    assert records.row_unit == "row"


def test_json_that_is_not_a_list_of_objects_is_rejected(tmp_path):
    path = tmp_path / "raw.json"
    path.write_text(json.dumps({"a": 1, "b": 2}), encoding="utf-8")
    with pytest.raises(InputDataError, match="expected a JSON array of objects"):
        read_raw_records(str(path))
    path.write_text(json.dumps([{"a": 1}, "oops"]), encoding="utf-8")
    with pytest.raises(InputDataError, match="item 2: expected an object, got str"):
        read_raw_records(str(path))


def test_csv_line_numbers_count_the_header_as_line_one(tmp_path):
    path = tmp_path / "raw.csv"
    path.write_text("text,label\nplay jazz,PlayMusic\n\"rain, tomorrow?\",GetWeather\n007,RateBook\n", encoding="utf-8")
    records = read_raw_records(str(path))
    assert records.rows == [{"text": "play jazz", "label": "PlayMusic"},
                            {"text": "rain, tomorrow?", "label": "GetWeather"},
                            {"text": "007", "label": "RateBook"}]  # strings kept as strings
    assert records.row_numbers == [2, 3, 4]
    assert records.row_unit == "line"


def test_csv_line_numbers_survive_blank_lines(tmp_path):
    path = tmp_path / "raw.csv"
    path.write_text("text,label\nhi,A\n\nbye,B\n", encoding="utf-8")
    assert read_raw_records(str(path)).row_numbers == [2, 4]


def test_parquet(tmp_path):
    import pandas as pd

    path = tmp_path / "raw.parquet"
    pd.DataFrame({"text": ["a", "b", "c"], "label": ["X", "Y", "X"]}).to_parquet(path)
    records = read_raw_records(str(path))
    assert records.rows == [{"text": "a", "label": "X"}, {"text": "b", "label": "Y"}, {"text": "c", "label": "X"}]
    assert records.row_numbers == [1, 2, 3]
    assert records.row_unit == "row"


def test_hf_dataset_saved_to_disk(tmp_path):
    import datasets

    rows = [{"text": f"t{i}", "label": "XY"[i % 2]} for i in range(4)]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"))
    records = RawRecordsDataset(str(tmp_path / "ds")).load()  # a folder is detected as hf_disk
    assert records.rows == rows
    assert records.row_numbers == [1, 2, 3, 4]


def test_hf_dataset_dict_with_split_slices(tmp_path):
    import datasets

    train = [{"text": f"t{i}", "label": "X"} for i in range(6)]
    test = [{"text": "held out", "label": "Y"}]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(train),
                          "test": datasets.Dataset.from_list(test)}).save_to_disk(str(tmp_path / "dd"))
    source = str(tmp_path / "dd")

    assert read_raw_records(source, "hf_disk", "train[:3]").rows == train[:3]
    assert read_raw_records(source, hf_split="test").rows == test
    assert read_raw_records(source, hf_split="train[4:]+test").rows == train[4:] + test
    assert RawRecordsDataset(source, format="hf_disk", hf_split="train[:50%]").load().rows == train[:3]

    with pytest.raises(InputDataError, match=r"holds splits \['test', 'train'\]; set data.hf_split"):
        read_raw_records(source)
    with pytest.raises(InputDataError, match="bad data.hf_split 'validation'"):
        read_raw_records(source, hf_split="validation")


def test_missing_file_is_named(tmp_path):
    for name in ("absent.jsonl", "absent.json", "absent.csv", "absent.parquet"):
        path = tmp_path / name
        with pytest.raises(InputDataError, match="file not found") as caught:
            read_raw_records(str(path))
        assert caught.value.source == str(path)
    with pytest.raises(InputDataError, match="file not found"):
        read_raw_records(str(tmp_path / "absent.txt"))


def test_malformed_json_line_names_file_and_line(tmp_path):
    path = tmp_path / "raw.jsonl"
    path.write_text('{"text": "a"}\n\n{"text": "b"\n{"text": "c"}\n', encoding="utf-8")
    with pytest.raises(InputDataError) as caught:
        read_raw_records(str(path)).rows  # noqa: B018 - rows are read (streamed) as they are iterated
    assert caught.value.line == 3
    assert str(caught.value).startswith(f"{path}, line 3: malformed JSON")


def test_jsonl_line_that_is_not_an_object_names_the_line(tmp_path):
    path = tmp_path / "raw.jsonl"
    path.write_text('{"text": "a"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(InputDataError, match=r"line 2: expected a JSON object like .*, got list"):
        read_raw_records(str(path)).rows  # noqa: B018 - read as iterated


def test_kedro_keeps_the_input_data_error_as_the_cause(tmp_path):
    """Raw rows are read as the ingest stage's records are saved; Kedro wraps the save's error in DatasetError,
    and the CLI finds the InputDataError through the cause chain."""
    from kedro.io import DatasetError

    from slmops.datasets import StreamedJSONLinesDataset

    path = tmp_path / "raw.jsonl"
    path.write_text('{"text": "a"}\n{oops}\n', encoding="utf-8")
    records = RawRecordsDataset(str(path)).load()
    with pytest.raises(DatasetError) as caught:
        StreamedJSONLinesDataset(str(tmp_path / "records.jsonl")).save(row for _, row in records)
    cause = caught.value.__cause__ or caught.value.__context__
    assert isinstance(cause, InputDataError) and cause.line == 2


def test_malformed_json_document_names_the_line(tmp_path):
    path = tmp_path / "raw.json"
    path.write_text('[\n  {"text": "a"},\n  {"text": }\n]\n', encoding="utf-8")
    with pytest.raises(InputDataError) as caught:
        read_raw_records(str(path))
    assert caught.value.line == 3 and str(path) in str(caught.value)


def test_unknown_suffix_asks_for_data_format(tmp_path):
    path = tmp_path / "raw.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(InputDataError, match=r"cannot tell the format from '\.xlsx'; set data.format"):
        read_raw_records(str(path))


def test_declared_format_overrides_the_suffix(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text('{"text": "a"}\n\n{"text": "b"}\n', encoding="utf-8")
    records = RawRecordsDataset(str(path), format="jsonl").load()
    assert records.rows == [{"text": "a"}, {"text": "b"}] and records.row_numbers == [1, 3]



def test_hf_split_on_a_plain_saved_dataset_is_not_silently_ignored(tmp_path):
    import datasets

    datasets.Dataset.from_list([{"text": str(i)} for i in range(5)]).save_to_disk(str(tmp_path / "ds"))
    try:
        rows = read_raw_records(str(tmp_path / "ds"), hf_split="train[:2]").rows
    except InputDataError:
        return  # refusing the split is an acceptable answer too
    assert len(rows) == 2


def test_hf_hub_format_goes_through_load_dataset_with_a_split_slice(tmp_path):
    """`datasets.load_dataset` resolves hub ids from the local cache offline; a local data folder
    exercises the same call without a hub."""
    folder = tmp_path / "snips_like"
    folder.mkdir()
    (folder / "train.jsonl").write_text("".join(f'{{"text": "t{i}", "label": "L{i % 2}"}}\n' for i in range(6)))
    records = read_raw_records(str(folder), "hf_hub", "train[2:5]")
    assert [r["text"] for r in records.rows] == ["t2", "t3", "t4"]
    assert records.row_numbers == [3, 4, 5] and records.row_unit == "row"


def test_hf_hub_load_failure_names_the_source(tmp_path):
    with pytest.raises(InputDataError, match="no-such-org/no-such-dataset: cannot load the Hugging Face dataset"):
        read_raw_records("no-such-org/no-such-dataset", "hf_hub", "train")
