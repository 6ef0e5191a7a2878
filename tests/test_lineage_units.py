"""Lineage pieces that need no pipeline run: portable names, the machine-path guard, hashing, version warnings."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from slmops.datasets import HFModelDataset, PeftAdapterDataset, StagedFolderDataset
from slmops.datasets.portable import MachinePathError, check_no_machine_paths, portable_model_name
from slmops.lineage import LineageVersionWarning, incompatible_versions
from slmops.lineage.hashing import content_hash, own_files

pytestmark = pytest.mark.fast  # in `make test-fast`


def test_the_base_model_is_named_as_the_user_gave_it(tmp_path):
    (tmp_path / "models/tiny").mkdir(parents=True)
    assert portable_model_name("embedded:SmolLM2-135M-Instruct", tmp_path) == "embedded:SmolLM2-135M-Instruct"
    assert portable_model_name("HuggingFaceTB/SmolLM2-360M", tmp_path) == "HuggingFaceTB/SmolLM2-360M"
    assert portable_model_name(str(tmp_path / "models/tiny"), tmp_path) == "models/tiny"  # inside: relative
    outside = tmp_path.parent
    assert portable_model_name(str(outside), tmp_path) == str(outside)  # outside the project: as given


def test_a_machine_path_in_a_config_stops_the_save(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"_name_or_path": f"{tmp_path}/data/base"}))
    with pytest.raises(MachinePathError, match="config.json would hold the machine path"):
        check_no_machine_paths(tmp_path, [tmp_path])
    check_no_machine_paths(tmp_path, [tmp_path / "elsewhere"])  # another path: fine


def test_the_adapter_names_its_base_portably(tmp_path, tiny_model_dir, monkeypatch):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    monkeypatch.chdir(tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)  # loaded by absolute path, like the trainer does
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["v_proj", "q_proj", "k_proj", "o_proj"],
                                                   task_type="CAUSAL_LM"))
    peft_model.save_pretrained(tmp_path / "trained", safe_serialization=True)  # as training leaves it
    assert str(tiny_model_dir) in (tmp_path / "trained/adapter_config.json").read_text()
    PeftAdapterDataset(str(tmp_path / "adapter"), base_model="embedded:SmolLM2-135M-Instruct").save(
        tmp_path / "trained")
    config = json.loads((tmp_path / "adapter/adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "embedded:SmolLM2-135M-Instruct"
    assert config["target_modules"] == ["k_proj", "o_proj", "q_proj", "v_proj"]  # sorted, not in hash order
    card = (tmp_path / "adapter/README.md").read_text()
    assert "base_model: embedded:SmolLM2-135M-Instruct" in card and str(tiny_model_dir) not in card
    from kedro.io import DatasetError

    with pytest.raises(DatasetError, match="saves an adapter folder"):  # a model object: only folders come here
        PeftAdapterDataset(str(tmp_path / "other")).save(peft_model)


def test_hashes_are_dvc_hashes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a/x.txt").write_text("hello\n")
    assert content_hash(tmp_path / "a/x.txt") == "b1946ac92492d2347c6235b4d2611184"  # md5 of the bytes
    assert content_hash(tmp_path / "a").endswith(".dir")
    assert own_files(tmp_path / "a") == {"x.txt": "b1946ac92492d2347c6235b4d2611184"}


def test_a_folder_record_lies_beside_the_folder_so_its_hash_is_its_content(tmp_path):
    from slmops.lineage.record import read_record, record_path, write_record

    (tmp_path / "a").mkdir()
    (tmp_path / "a/x.txt").write_text("hello\n")
    before = content_hash(tmp_path / "a")
    assert record_path(tmp_path / "a") == tmp_path / "a.lineage.json"
    assert record_path(tmp_path / "a/x.txt") == tmp_path / "a/x.txt.lineage.json"
    write_record(tmp_path / "a", {"code": {"commit": "1" * 40}})
    assert content_hash(tmp_path / "a") == before  # another commit's record changes nothing DVC hashes
    assert read_record(tmp_path / "a") == {"code": {"commit": "1" * 40}}


def _folder_made_with(tmp_path: Path, **versions: str) -> Path:
    folder = tmp_path / "artifact"
    folder.mkdir()
    (tmp_path / "artifact.lineage.json").write_text(json.dumps({"versions": versions}))
    return folder


def test_loading_an_artifact_from_a_breaking_release_warns_naming_both(tmp_path):
    from importlib import metadata

    installed = metadata.version("transformers")
    folder = _folder_made_with(tmp_path, transformers="4.46.0", **{"onnxruntime-genai": "0.5.2"})
    with pytest.warns(LineageVersionWarning, match=f"transformers 4.46.0 but transformers {installed} is installed"):
        HFModelDataset(str(folder)).load()
    genai = metadata.version("onnxruntime-genai")
    with pytest.warns(LineageVersionWarning, match=f"onnxruntime-genai 0.5.2 but onnxruntime-genai {genai}"):
        StagedFolderDataset(str(folder)).load()


def test_same_or_compatible_releases_do_not_warn(tmp_path):
    from importlib import metadata

    transformers = metadata.version("transformers")
    patch = ".".join(transformers.split(".")[:2]) + ".999"  # another patch release of the same minor
    genai = metadata.version("onnxruntime-genai")
    folder = _folder_made_with(tmp_path, transformers=patch, **{"onnxruntime-genai": genai})
    assert incompatible_versions(folder) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error", LineageVersionWarning)
        HFModelDataset(str(folder)).load()
        StagedFolderDataset(str(folder)).load()


def _tiny_chain(root: Path) -> None:
    """raw.jsonl → records.jsonl (+ sidecar) → model/ (+ model.lineage.json beside it), records written as the hook does."""
    from slmops.lineage.record import write_record

    (root / "dvc.yaml").write_text("stages: {}\n")
    (root / "raw.jsonl").write_text('{"text": "a"}\n')
    (root / "records.jsonl").write_text('{"text": "a", "id": "1"}\n')
    write_record(root / "records.jsonl", {
        "artifact": "records.jsonl", "files": own_files(root / "records.jsonl"), "params": {"data": {}},
        "made_by": {"pipeline": "ingest", "node": "validate_records"},
        "inputs": [{"name": "raw_records", "path": "raw.jsonl", "md5": content_hash(root / "raw.jsonl")}]})
    (root / "model").mkdir()
    (root / "model/weights.bin").write_bytes(b"\1\2\3")
    write_record(root / "model", {
        "artifact": "model", "files": own_files(root / "model"), "params": {"train": {}},
        "made_by": {"pipeline": "train", "node": "train_adapter"},
        "base_model": {"name_or_path": "embedded:SmolLM2-135M-Instruct", "md5": "ab" * 16 + ".dir"},
        "inputs": [{"name": "records", "path": "records.jsonl", "md5": content_hash(root / "records.jsonl")}]})


def test_chain_verify_and_markdown_on_hand_made_records(tmp_path):
    from slmops.datasets import LineageChainDataset
    from slmops.lineage import build_chain, chain_markdown, verify_chain

    _tiny_chain(tmp_path)
    chain = build_chain(tmp_path / "model/weights.bin", tmp_path)  # a file inside a folder artifact
    assert chain["artifact"] == "model"
    assert build_chain(tmp_path / "model.lineage.json", tmp_path) == chain  # the record names its folder
    assert chain["inputs"][0]["lineage"]["inputs"][0]["path"] == "raw.jsonl"
    assert LineageChainDataset(str(tmp_path / "model")).load() == chain
    text = chain_markdown(tmp_path / "model", tmp_path)
    assert "`raw.jsonl` md5" in text and "(raw data)" in text and "embedded:SmolLM2-135M-Instruct" in text
    assert verify_chain(chain, tmp_path) == []
    (tmp_path / "model/weights.bin").write_bytes(b"\1\2\4")
    (tmp_path / "raw.jsonl").write_text('{"text": "b"}\n')
    (tmp_path / "model/extra.txt").write_text("x")
    named = {m.path: m.why for m in verify_chain(build_chain(tmp_path / "model", tmp_path), tmp_path)}
    assert named == {"model/weights.bin": "content changed", "model/extra.txt": "not part of model when it was made",
                     "raw.jsonl": "changed since records.jsonl was made from it"}


def test_metrics_folders_skip_the_lineage_records_beside_each_file(tmp_path):
    from slmops.datasets import JSONFolderDataset

    (tmp_path / "cpu-int4.json").write_text('{"target": "cpu-int4"}')
    (tmp_path / "cpu-int4.json.lineage.json").write_text('{"artifact": "cpu-int4.json"}')
    assert JSONFolderDataset(str(tmp_path)).load() == {"cpu-int4": {"target": "cpu-int4"}}
