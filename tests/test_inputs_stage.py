"""Inputs outside DVC's view are fingerprinted by the `inputs` stage: a changed one reruns its stage, never stale.

DVC sees base_model.name_or_path and data.source as params strings only; without the fingerprints, a model folder
whose weights were replaced came back from the run-cache as the old model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from project import TINY_MODEL, copy_of, edited_params, read_params, reproduced_tiny_project, run

from slmops.commands.inputs import Hasher, data_fingerprint, hub_snapshot
from slmops.lineage.hashing import content_hash


@pytest.fixture
def project(tmp_path, tmp_path_factory, tiny_model_dir, snips_rows):
    return copy_of(reproduced_tiny_project(tmp_path_factory, tiny_model_dir, snips_rows), tmp_path / "p")


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def _reseeded(model_dir: Path, seed: int) -> None:
    """The same architecture with other random weights, saved over the folder's model.safetensors."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(AutoModelForCausalLM.from_pretrained(model_dir).config)
    model.save_pretrained(model_dir, safe_serialization=True)


def test_replacing_a_local_model_folders_weights_rebuilds_from_the_new_ones(project):
    import torch

    old = _weights(project / "data/06_models/base_model")
    quiet = run(project, "dvc", "repro", "base_model").stdout
    assert "Stage 'base_model' didn't change, skipping" in quiet  # nothing moved: the stage stays skipped
    _reseeded(project / TINY_MODEL, seed=7)
    result = run(project, "dvc", "repro", "base_model").stdout
    assert "Running stage 'base_model'" in result and "is cached" not in result, result[-2000:]
    new = _weights(project / "data/06_models/base_model")
    expected = _weights(project / TINY_MODEL)
    assert all(torch.equal(new[name], expected[name]) for name in expected)
    assert not all(torch.equal(new[name], old[name]) for name in old)
    # The base model's lineage names the folder and hashes its new content.
    source = json.loads((project / "data/06_models/base_model.lineage.json").read_text())["source"]
    assert source["name_or_path"] == TINY_MODEL and source["md5"] == content_hash(project / TINY_MODEL)


def test_a_data_file_outside_the_project_reruns_ingest_when_it_changes(project, tmp_path):
    outside = tmp_path / "elsewhere" / "rows.jsonl"
    outside.parent.mkdir()
    shutil.copy2(project / read_params(project)["data"]["source"], outside)
    with edited_params(project, {"data.source": str(outside)}):
        run(project, "dvc", "repro", "ingest")
        records = (project / "data/02_intermediate/records.jsonl").read_text()
        assert "didn't change" in run(project, "dvc", "repro", "ingest").stdout
        lines = outside.read_text().splitlines()
        outside.write_text("\n".join(lines[:-4]) + "\n")  # the same file, four rows fewer
        result = run(project, "dvc", "repro", "ingest").stdout
        assert "Running stage 'ingest'" in result and "is cached" not in result, result[-2000:]
        assert len((project / "data/02_intermediate/records.jsonl").read_text().splitlines()) == \
            len(records.splitlines()) - 4


def test_fingerprints_hold_content_hashes_only_and_reuse_them_by_size_and_mtime(tmp_path, monkeypatch):
    data = tmp_path / "rows.jsonl"
    data.write_text('{"text": "a", "label": "b"}\n')
    hasher = Hasher(tmp_path / "memo.json")
    first = data_fingerprint({"source": str(data)}, hasher)
    assert first == {"source": {"kind": "file", "md5": first["source"]["md5"]}}
    assert str(tmp_path) not in json.dumps(first)  # no machine path in a committed file
    hasher.save()
    # An unchanged file is not read again: a memo entry with the same size and mtime is trusted.
    memo = json.loads((tmp_path / "memo.json").read_text())
    memo[str(data.resolve())][2] = "remembered"
    (tmp_path / "memo.json").write_text(json.dumps(memo))
    assert data_fingerprint({"source": str(data)}, Hasher(tmp_path / "memo.json"))["source"]["md5"] == "remembered"


def test_a_hub_id_is_fingerprinted_by_the_commit_its_local_cache_holds(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert hub_snapshot("org/model", "models", None) == {"kind": "hub", "revision": None, "commit": None}
    refs = tmp_path / "models--org--model" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text("a" * 40)
    assert hub_snapshot("org/model", "models", None)["commit"] == "a" * 40
    assert hub_snapshot("org/model", "models", "b" * 40) == {"kind": "hub", "commit": "b" * 40}  # pinned
