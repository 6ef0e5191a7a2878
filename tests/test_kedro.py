"""Kedro as Kedro users expect: the registry, `kedro run` with and without arguments, conf/local, kedro-viz."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, copy_project
from project import read_params, run, tiny_params, tiny_rows, write_params

from slmops.commands.run import BEFORE_EXPORT, PER_TARGET, plan_runs
from slmops.errors import ConfigError
from slmops.pipeline_registry import STAGES, register_pipelines


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_model_dir, snips_rows):
    root = copy_project(tmp_path_factory.mktemp("kedro"))
    (root / "data/01_raw/tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tiny_rows(snips_rows)))
    write_params(root, tiny_params(read_params(root), tiny_model_dir, "data/01_raw/tiny.jsonl"))
    return root


def test_every_catalog_entry_is_produced_or_consumed():
    pipelines = register_pipelines()
    used = set().union(*(p.datasets() for p in pipelines.values()))
    catalog = set(yaml.safe_load((ROOT / "conf/base/catalog.yml").read_text()))
    assert catalog - used == set(), "catalog entries no pipeline reads or writes"
    unlisted = {d for d in used - catalog if not d.startswith("params:") and d != "parameters"}
    assert unlisted == set(), "datasets missing from the catalog (they would vanish as MemoryDatasets)"
    assert set(STAGES) <= set(pipelines) and "__default__" in pipelines


def _args(**given):
    base = dict.fromkeys(("tags", "node_names", "to_nodes", "from_nodes", "from_inputs", "to_outputs", "namespaces"),
                         "")
    return {**base, "pipelines": [], "pipeline": None, "params": {}, **given}


@pytest.mark.fast  # in `make test-fast`: no pipeline run
def test_a_bare_kedro_run_covers_every_export_target(tmp_path):
    (tmp_path / "params.yaml").write_text("export: {targets: [cpu-int4, cpu-fp32]}\n")
    runs = plan_runs(tmp_path, _args())
    assert [r["pipelines"] for r in runs] == [BEFORE_EXPORT, PER_TARGET, PER_TARGET, ["report"]]
    assert [r["params"].get("target") for r in runs] == [None, "cpu-int4", "cpu-fp32", None]
    # Node filters cannot span several targets' runs: refused before any work, naming the fix.
    with pytest.raises(ConfigError, match="--params target=<name>"):
        plan_runs(tmp_path, _args(to_nodes="train_adapter"))
    (tmp_path / "params.yaml").write_text("export: {targets: [cpu-int4]}\n")
    assert plan_runs(tmp_path, _args(to_nodes="x")) == [_args(to_nodes="x", params={"target": "cpu-int4"})]
    assert plan_runs(tmp_path, _args(pipelines=["train"])) == [_args(pipelines=["train"])]


def test_to_nodes_runs_up_to_that_node_with_a_local_catalog_override(project):
    # A user's machine-specific catalog entry in conf/local overrides conf/base's.
    local = project / "conf/local/catalog.yml"
    local.write_text("records:\n  type: slmops.datasets.JSONLinesDataset\n  filepath: data/02_intermediate/mine.jsonl\n")
    try:
        result = run(project, "kedro", "run", "--to-nodes", "split_train_validation")
    finally:
        local.unlink()
    assert (project / "data/05_model_input/train.jsonl").is_file()
    assert (project / "data/02_intermediate/mine.jsonl").is_file()
    assert not (project / "data/02_intermediate/records.jsonl").exists()
    assert not (project / "data/06_models/adapter").exists(), "ran past the node asked for"
    assert "Traceback" not in result.stderr


@pytest.mark.fast  # in `make test-fast`: no pipeline run
def test_local_parameters_stop_at_once_naming_the_way(project):
    local = project / "conf/local/parameters.yml"
    local.write_text("train: {epochs: 9}\n")
    try:
        result = run(project, "kedro", "run", "--pipelines", "ingest", check=False)
    finally:
        local.unlink()
    assert result.returncode == 2
    assert "error: conf/local/parameters.yml: parameters live in params.yaml only" in result.stderr
    assert "dvc exp run -S" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.fast  # in `make test-fast`: no pipeline run
def test_conf_local_is_git_ignored(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text((ROOT / ".gitignore").read_text())
    (tmp_path / "conf/local").mkdir(parents=True)
    for name in ("catalog.yml", "credentials.yml"):
        (tmp_path / "conf/local" / name).write_text("{}\n")
        assert subprocess.run(["git", "check-ignore", "-q", f"conf/local/{name}"], cwd=tmp_path).returncode == 0


def test_kedro_viz_build_names_every_stage(project):
    run(project, "kedro", "viz", "build")
    built = {p.name for p in (project / "build/api/pipelines").iterdir()}
    assert set(STAGES) <= built
    graph = json.loads((project / "build/api/main").read_text())
    tasks = {n["name"] for n in graph["nodes"] if n["type"] == "task"}
    data = {n["name"] for n in graph["nodes"] if n["type"] == "data"}
    expected = register_pipelines()["__default__"]
    assert {n.name for n in expected.nodes} <= tasks
    assert {"merged_model", "onnx_model", "report_markdown"} <= data  # catalog names, as in catalog.yml
    assert Path(project / "build/index.html").is_file()
