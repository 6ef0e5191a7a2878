"""The example CI workflow: its pipeline steps (scripts/ci_pipeline.sh) run here against a local-folder remote."""

from __future__ import annotations

import os

import yaml
from conftest import ROOT
from helpers.remote import shared_project
from project import edited_params, run


def test_the_workflow_installs_as_the_readme_and_runs_the_script_on_each_python():
    workflow = yaml.safe_load((ROOT / ".github/workflows/pipeline.yml").read_text())
    job = workflow["jobs"]["pipeline"]
    assert job["strategy"]["matrix"]["python"] == ["3.11", "3.12", "3.13"]
    commands = "\n".join(step.get("run", "") for step in job["steps"])
    assert "make install" in commands and "scripts/ci_pipeline.sh" in commands
    assert "cml comment" in commands
    script = (ROOT / "scripts/ci_pipeline.sh").read_text()
    for step in ("dvc pull", "dvc repro", "dvc push", "dvc metrics diff"):
        assert step in script


def test_the_ci_steps_pull_reproduce_push_and_summarize(tmp_path, tmp_path_factory, tiny_model_dir, snips_rows):
    origin, storage = shared_project(tmp_path, tmp_path_factory, tiny_model_dir, snips_rows)
    ci = tmp_path / "ci"
    run(tmp_path, "git", "clone", "-q", str(origin), str(ci))
    run(ci, "git", "checkout", "-q", "-b", "change")
    summary = tmp_path / "summary.md"
    before = {p for p in storage.rglob("*") if p.is_file()}
    env_backup = dict(os.environ)
    os.environ.update(GITHUB_STEP_SUMMARY=str(summary), SLMOPS_BASE_REV="main")
    try:
        with edited_params(ci, {"evaluate.max_new_tokens": 5}):  # a pull request that changes evaluation
            result = run(ci, "bash", str(ROOT / "scripts/ci_pipeline.sh"))
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    assert "Running stage 'train'" not in result.stdout, "pulled outputs are not retrained"
    assert "Running stage 'evaluate'" in result.stdout
    assert {p for p in storage.rglob("*") if p.is_file()} > before, "the new results were pushed"
    text = summary.read_text()
    assert text.startswith("## Metrics: this revision vs main")
    assert "| Path" in text and "reports/metrics/eval.json" in text  # dvc metrics diff --md table
