"""The whole pipeline through `dvc repro` on a tiny random Llama and a few dozen SNIPS rows (the session's tiny
run, tests/project.py), with a second export target added afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from project import ALWAYS_RUN, copy_of, edited_params, read_params, run, stages_run, stale_stages, write_params


@pytest.fixture(scope="module")
def reran(tmp_path_factory, tiny_run):
    """A copy of the session's tiny run (the whole pipeline, one target), then a second target whose provider this
    machine lacks (built, checked, said not run) added and `dvc repro` again: that output and the copy."""
    root = copy_of(tiny_run, tmp_path_factory.mktemp("e2e") / "p")
    params = read_params(root)
    params["export"] = dict(params["export"], targets=["cpu-int4", "webgpu-int4"])
    write_params(root, params)
    return run(root, "dvc", "repro").stdout, root


@pytest.fixture(scope="module")
def project(reran):
    return reran[1]


def test_a_second_target_runs_only_its_own_stages_and_the_report(reran):
    ran = set(stages_run(reran[0])) - {ALWAYS_RUN}
    assert ran == {"export@webgpu-int4", "evaluate_onnx@webgpu-int4", "report"}


def test_every_artifact_is_written(project):
    expected = [
        "data/06_models/base_model/model.safetensors", "data/02_intermediate/records.jsonl",
        "data/03_primary/examples.jsonl", "data/05_model_input/train.jsonl", "data/05_model_input/validation.jsonl",
        "data/06_models/adapter/adapter_config.json", "data/06_models/merged_model/model.safetensors",
        "data/07_model_output/onnx/cpu-int4/genai_config.json", "data/07_model_output/onnx/cpu-int4/model.onnx",
        "reports/metrics/split.json", "reports/metrics/train.json", "reports/metrics/eval.json",
        "reports/metrics/export/cpu-int4.json", "reports/plots/train_loss.csv", "reports/report.md",
        "reports/report.html", "reports/figures/loss_curve.png",
    ]
    missing = [p for p in expected if not (project / p).is_file()]
    assert not missing
    assert not list(project.rglob(".*.tmp-*")), "staging leftovers"


def test_metrics_hold_real_numbers(project):
    split = json.loads((project / "reports/metrics/split.json").read_text())
    assert split["train"] + split["validation"] == 56 and split["validation"] == 14
    train = json.loads((project / "reports/metrics/train.json").read_text())
    assert train["steps"] == 6 and train["tokens_per_second"] > 0
    evaluation = json.loads((project / "reports/metrics/eval.json").read_text())
    assert evaluation["rows"] == 14 and len(evaluation["labels"]) == 7
    export = json.loads((project / "reports/metrics/export/cpu-int4.json").read_text())
    assert export["target"] == "cpu-int4" and export["decode"]["speedup"] > 0 and export["ran"]
    assert 0 <= export["greedy_agreement"] <= 1 and export["greedy_agreement_rows"] == 14
    webgpu = json.loads((project / "reports/metrics/export/webgpu-int4.json").read_text())
    assert not webgpu["ran"] and "not run here" in webgpu["not_run_reason"] and "decode" not in webgpu
    assert (project / "data/07_model_output/onnx/webgpu-int4/model.onnx").is_file()
    assert "Not run: not run here" in (project / "reports/model_cards/webgpu-int4.md").read_text()
    report = (project / "reports/report.md").read_text()
    assert f"{evaluation['tuned']['f1']:.3f}" in report and "cpu-int4" in report


def test_nothing_changed_means_nothing_reruns(project):
    assert not stale_stages(project)


def _stages_that_would_run(project: Path, key: str, value) -> set[str]:
    with edited_params(project, {key: value}):
        out = run(project, "dvc", "repro", "--dry").stdout
    return set(stages_run(out))


def test_an_evaluate_param_does_not_retrain(project):
    stages = _stages_that_would_run(project, "evaluate.max_new_tokens", 5)
    assert {"evaluate", "evaluate_onnx@cpu-int4", "report"} <= stages
    assert not stages & {"base_model", "ingest", "template", "split", "train", "export@cpu-int4"}


def test_a_learning_rate_reruns_from_train_on(project):
    # A dry run lists train; the stages after it rerun once train's outputs change (DVC compares hashes).
    stages = _stages_that_would_run(project, "train.learning_rate", 1e-4)
    assert "train" in stages
    assert not stages & {"base_model", "ingest", "template", "split"}


def test_an_added_target_builds_only_that_target(project):
    targets = {"export.targets": ["cpu-int4", "cpu-fp32"],
               "export.target_options.cpu-fp32": {"precision": "fp32", "execution_provider": "cpu"}}
    with edited_params(project, targets):
        changed = stale_stages(project)
    assert {"export@cpu-fp32", "evaluate_onnx@cpu-fp32", "report"} <= changed
    assert not changed & {"export@cpu-int4", "evaluate_onnx@cpu-int4", "train", "evaluate"}


def _stages_changed_by_editing(project: Path, module: str) -> set[str]:
    source = project / module
    original = source.read_text()
    source.write_text(original + "\n# edited\n")
    try:
        return stale_stages(project)
    finally:
        source.write_text(original)


def test_an_edited_module_reruns_each_stage_that_runs_it(project):
    # Only the report uses git_revision.py, but every stage imports it through the datasets package's __init__.
    every_stage = {"base_model", "ingest", "template", "split", "train", "evaluate", "report"} | {
        f"{stage}@{target}" for stage in ("export", "evaluate_onnx") for target in ("cpu-int4", "webgpu-int4")}
    assert _stages_changed_by_editing(project, "src/slmops/datasets/git_revision.py") == every_stage
    # evaluate_onnx lists modeling/ whole; the stages before it list the modules they run, so a change to ONNX
    # scoring reruns only the scoring.
    scoring = _stages_changed_by_editing(project, "src/slmops/modeling/onnx_quality.py")
    assert scoring == {"evaluate_onnx@cpu-int4", "evaluate_onnx@webgpu-int4"}
    assert "train" in _stages_changed_by_editing(project, "src/slmops/modeling/encoding.py")


def test_a_row_missing_a_template_field_names_file_line_and_field(project):
    with edited_params(project, {"template.prompt": "{text} ({channel})"}):
        result = run(project, "kedro", "run", "--pipelines", "template", check=False)
    assert result.returncode == 2
    assert "error: data/01_raw/tiny.jsonl, line 1, field 'channel': missing a field the template uses" in result.stderr


def test_an_unknown_param_key_stops_at_start_up(project):
    with edited_params(project, {"train.learnig_rate": 0.1}):
        result = run(project, "kedro", "run", "--pipelines", "ingest", check=False)
    assert result.returncode == 2
    assert "params.yaml: train.learnig_rate: unknown key (did you mean 'learning_rate'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_kedro_reads_the_root_params_yaml(project):
    """Change a value in params.yaml (no other copy exists) and see the Kedro run use it.

    Last in this module: running Kedro outside DVC leaves outputs dvc.lock does not know.
    """
    with edited_params(project, {"evaluate.sample_count": 1}):
        run(project, "kedro", "run", "--pipelines", "evaluate")
    samples = json.loads((project / "reports/eval_samples.json").read_text())["samples"]
    assert len(samples) == 1
    assert not list((project / "conf").rglob("parameters*"))
