"""What DVC hashes is content: a rerun that makes the same files reruns nothing after it, and says nothing.

Each artifact's lineage record (commit, library versions) lies beside it as `<path>.lineage.json`, its own DVC
out, never inside a model folder: so a code change that reruns `train` but gives the same weights leaves the
adapter's and merged model's hashes in dvc.lock as they were, and DVC's early cut-off skips every evaluation and
export after them. And a default run prints no warning every user would learn to ignore.
"""

from __future__ import annotations

import json

import pytest
import yaml
from project import copy_of, reproduced_tiny_project, run, stages_run

MODELS = ("data/06_models/adapter", "data/06_models/merged_model")
AFTER_THE_MODELS = ("evaluate", "export@cpu-int4", "evaluate_onnx@cpu-int4")


@pytest.fixture
def project(tmp_path, tmp_path_factory, tiny_model_dir, snips_rows):
    return copy_of(reproduced_tiny_project(tmp_path_factory, tiny_model_dir, snips_rows), tmp_path / "p")


def _locked(project, paths) -> dict[str, str]:
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    outs = {o["path"]: o["md5"] for stage in lock["stages"].values() for o in stage.get("outs", [])}
    return {path: outs[path] for path in paths}


def _commit(project, message: str) -> str:
    run(project, "git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", message)
    return run(project, "git", "rev-parse", "HEAD").stdout.strip()


def test_a_rerun_of_train_with_the_same_weights_reruns_nothing_after_it(project):
    before = _locked(project, MODELS)
    assert not any((project / folder / "lineage.json").exists() for folder in MODELS)  # the record lies beside
    trainer = project / "src/slmops/pipelines/train/run.py"
    trainer.write_text(trainer.read_text() + "# a comment: a code change, the same weights\n")
    commit = _commit(project, "a comment in the trainer")

    result = run(project, "dvc", "repro")
    ran = stages_run(result.stdout)
    assert "train" in ran, result.stdout
    assert _locked(project, MODELS) == before, "the same weights must keep their hashes"
    assert not set(AFTER_THE_MODELS) & set(ran), ran
    for stage in AFTER_THE_MODELS:
        assert f"Stage '{stage}' didn't change, skipping" in result.stdout
    # The records did change: they name the commit the models were made at this time.
    for folder in MODELS:
        record = json.loads((project / f"{folder}.lineage.json").read_text())
        assert record["code"] == {"commit": commit, "dirty": False}
    assert "is empty" not in result.stdout + result.stderr

    verified = run(project, "slmops", "lineage", "data/06_models/merged_model", "--verify")
    assert verified.stdout.startswith("OK: data/06_models/merged_model"), verified.stdout


def test_the_default_split_warns_of_no_empty_output(project):
    # No test split by default (split.test_fraction 0): test.jsonl is empty, inside the split's folder out.
    assert (project / "data/05_model_input/test.jsonl").read_bytes() == b""
    result = run(project, "dvc", "repro", "--force", "--single-item", "split")
    assert stages_run(result.stdout) == ["split"]
    assert "is empty" not in result.stdout + result.stderr, result.stderr
    for name in ("train", "validation"):  # later stages still find each file where the catalog says
        assert (project / f"data/05_model_input/{name}.jsonl").stat().st_size > 0
