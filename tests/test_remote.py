"""`slmops remote add`: push after a run, clone elsewhere, pull, and nothing is left to reproduce."""

from __future__ import annotations

import pytest
from conftest import copy_project
from helpers.remote import shared_project
from project import ALWAYS_RUN, run, stages_run

from slmops.commands.remote import plugin_for
from slmops.errors import ConfigError


def test_a_clone_pulls_everything_and_has_nothing_to_reproduce(tmp_path, tmp_path_factory, tiny_model_dir,
                                                               snips_rows):
    origin, storage = shared_project(tmp_path, tmp_path_factory, tiny_model_dir, snips_rows)
    assert any(storage.rglob("*")), "dvc push wrote nothing"
    clone = tmp_path / "clone"
    run(tmp_path, "git", "clone", "-q", str(origin), str(clone))
    assert not (clone / "data/06_models/merged_model").exists()
    run(clone, "dvc", "pull")
    assert (clone / "data/07_model_output/onnx/cpu-int4/model.onnx").is_file()
    merged = "data/06_models/merged_model/model.safetensors"
    assert (clone / merged).read_bytes() == (origin / merged).read_bytes()
    assert stages_run(run(clone, "dvc", "repro").stdout) == [ALWAYS_RUN]  # its fingerprints match: nothing else
    # The pulled model's whole chain checks out against the bytes on disk, back to the raw data.
    assert "ok" in run(clone, "slmops", "lineage", "--verify", "data/07_model_output/onnx/cpu-int4").stdout.lower()


@pytest.mark.fast  # in `make test-fast`: no pipeline run
def test_each_kind_of_remote_names_its_plugin():
    assert plugin_for("/srv/dvc-store") is None and plugin_for("C:/dvc") is None
    assert plugin_for("s3://bucket/slmops") == "dvc_s3" and plugin_for("ssh://host/srv/dvc") == "dvc_ssh"
    assert plugin_for("gs://b/p") == "dvc_gs" and plugin_for("azure://container/p") == "dvc_azure"
    with pytest.raises(ConfigError, match="unknown remote kind 'ftp://'"):
        plugin_for("ftp://host/x")


@pytest.mark.fast  # in `make test-fast`: no pipeline run
def test_a_remote_without_its_plugin_says_what_to_install(tmp_path):
    copy_project(tmp_path)  # project commands exist inside a project
    run(tmp_path, "git", "init", "-q")
    run(tmp_path, "dvc", "init", "-q")
    result = run(tmp_path, "slmops", "remote", "add", "s3://bucket/slmops", check=False)
    if result.returncode == 0:
        pytest.skip("dvc-s3 is installed here")
    assert result.returncode == 2 and "pip install dvc-s3" in result.stderr
    assert "storage" not in (tmp_path / ".dvc/config").read_text()
