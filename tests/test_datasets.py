"""Custom Kedro datasets: atomic writes, JSON documents and folders (raw data: test_raw_records.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slmops.datasets import (
    JSONDocumentDataset,
    JSONFolderDataset,
    JSONLinesDataset,
    OptionalYAMLDataset,
    StagedFolderDataset,
)
from slmops.datasets.atomic import atomic_dir, atomic_file

pytestmark = pytest.mark.fast  # in `make test-fast`


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


class _Boom(RuntimeError):
    pass


# --- atomic_file / atomic_dir ---------------------------------------------------------------------------


def test_atomic_file_writes_on_success(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_file(target) as handle:
        handle.write("héllo")
        assert not target.exists()  # nothing at the final path until the block ends
    assert target.read_text(encoding="utf-8") == "héllo"
    assert _leftovers(target.parent) == []


def test_atomic_file_failure_keeps_the_previous_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(_Boom):
        with atomic_file(target) as handle:
            handle.write("half-written")
            raise _Boom
    assert target.read_text(encoding="utf-8") == "old"
    assert _leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_file_binary_mode(tmp_path):
    target = tmp_path / "blob.bin"
    with atomic_file(target, "wb") as handle:
        handle.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"


def test_atomic_dir_replaces_the_folder_on_success(tmp_path):
    final = tmp_path / "model"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with atomic_dir(final) as staging:
        assert staging != final and staging.parent == final.parent and list(staging.iterdir()) == []
        (staging / "new.txt").write_text("new")
        assert (final / "old.txt").exists()  # untouched while the block runs
    assert sorted(p.name for p in final.iterdir()) == ["new.txt"]
    assert _leftovers(tmp_path) == []


def test_atomic_dir_failure_keeps_the_previous_folder(tmp_path):
    final = tmp_path / "model"
    final.mkdir()
    (final / "weights.bin").write_bytes(b"good")
    with pytest.raises(_Boom):
        with atomic_dir(final) as staging:
            (staging / "weights.bin").write_bytes(b"partial")
            raise _Boom
    assert (final / "weights.bin").read_bytes() == b"good"
    assert sorted(p.name for p in final.iterdir()) == ["weights.bin"]
    assert _leftovers(tmp_path) == []


def test_atomic_dir_failure_with_no_previous_folder_leaves_nothing(tmp_path):
    with pytest.raises(_Boom):
        with atomic_dir(tmp_path / "model") as staging:
            (staging / "x").write_text("x")
            raise _Boom
    assert list(tmp_path.iterdir()) == []


# --- JSON datasets --------------------------------------------------------------------------------------


def test_jsonlines_round_trip(tmp_path):
    path = tmp_path / "deep" / "rows.jsonl"
    rows = [{"id": "a", "text": "café ☕", "n": 1}, {"id": "b", "nested": {"x": [1, 2]}, "none": None}]
    dataset = JSONLinesDataset(str(path))
    assert not dataset.exists()
    dataset.save(rows)
    assert dataset.exists()
    assert JSONLinesDataset(str(path)).load() == rows
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and "café ☕" in lines[0]  # one object per line, not ASCII-escaped
    assert _leftovers(path.parent) == []


def test_jsonlines_save_replaces_the_old_content(tmp_path):
    path = tmp_path / "rows.jsonl"
    JSONLinesDataset(str(path)).save([{"a": 1}, {"a": 2}, {"a": 3}])
    JSONLinesDataset(str(path)).save([{"b": 1}])
    assert JSONLinesDataset(str(path)).load() == [{"b": 1}]


def test_json_document_round_trip_is_pretty_and_ordered(tmp_path):
    path = tmp_path / "metrics.json"
    document = {"z": 1, "a": {"f1": 0.5}, "label": "ü"}
    JSONDocumentDataset(str(path)).save(document)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and '\n  "a": {' in text and "ü" in text
    assert list(json.loads(text)) == ["z", "a", "label"]  # insertion order kept, not sorted
    assert JSONDocumentDataset(str(path)).load() == document
    assert JSONDocumentDataset(str(path)).exists()
    assert not JSONDocumentDataset(str(tmp_path / "absent.json")).exists()


def test_json_folder_round_trip_keyed_by_stem(tmp_path):
    folder = tmp_path / "per-target"
    data = {"cpu-int4": {"f1": 0.9}, "cuda-fp16": {"f1": 0.95}}
    dataset = JSONFolderDataset(str(folder))
    assert not dataset.exists()
    dataset.save(data)
    assert sorted(p.name for p in folder.iterdir()) == ["cpu-int4.json", "cuda-fp16.json"]
    (folder / "notes.txt").write_text("ignored")
    assert JSONFolderDataset(str(folder)).load() == data


def test_staged_folder_moves_a_folder_built_elsewhere_into_place(tmp_path):
    built = tmp_path / "elsewhere" / "build-123"
    built.mkdir(parents=True)
    (built / "model.onnx").write_bytes(b"new model")
    (built / "sub").mkdir()
    (built / "sub" / "genai_config.json").write_text("{}")

    destination = tmp_path / "data" / "06_models" / "onnx"
    destination.mkdir(parents=True)
    (destination / "stale.onnx").write_bytes(b"old model")

    dataset = StagedFolderDataset(str(destination))
    dataset.save(built)
    assert not built.exists()
    assert sorted(str(p.relative_to(destination)) for p in destination.rglob("*")) == [
        "model.onnx", "sub", "sub/genai_config.json"]
    assert (destination / "model.onnx").read_bytes() == b"new model"
    assert _leftovers(destination.parent) == []
    assert dataset.load() == destination and dataset.exists()


def test_staged_folder_creates_the_destination_when_absent(tmp_path):
    built = tmp_path / "build"
    built.mkdir()
    (built / "a").write_text("a")
    destination = tmp_path / "x" / "y"
    StagedFolderDataset(str(destination)).save(built)
    assert (destination / "a").read_text() == "a"


def test_optional_yaml_is_empty_when_absent_and_read_when_present(tmp_path):
    path = tmp_path / "dvc.lock"
    assert OptionalYAMLDataset(str(path)).load() == {}
    path.write_text("", encoding="utf-8")
    assert OptionalYAMLDataset(str(path)).load() == {}
    path.write_text("schema: '2.0'\nstages:\n  train:\n    cmd: kedro run\n", encoding="utf-8")
    assert OptionalYAMLDataset(str(path)).load() == {"schema": "2.0", "stages": {"train": {"cmd": "kedro run"}}}
