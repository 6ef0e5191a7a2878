"""Lineage on a tiny `dvc repro` run: records, the chain back to the raw file, --verify, portability, MLflow.

The session's tiny run (tests/project.py): a project-relative base model (models/tiny), run at a git commit, so
a second clone can be compared with it byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import yaml
from project import copy_of, run

from slmops.lineage.hashing import folder_hashes

RAW = "data/01_raw/tiny.jsonl"
ONNX = "data/07_model_output/onnx/cpu-int4"
RECORDS = [  # every artifact's lineage record
    "data/06_models/base_model.lineage.json", "data/02_intermediate/records.jsonl.lineage.json",
    "data/03_primary/examples.jsonl.lineage.json", "data/05_model_input/train.jsonl.lineage.json",
    "data/05_model_input/validation.jsonl.lineage.json", "data/06_models/adapter.lineage.json",
    "data/06_models/merged_model.lineage.json", f"{ONNX}.lineage.json", "reports/metrics/split.json.lineage.json",
    "reports/metrics/train.json.lineage.json", "reports/metrics/eval.json.lineage.json",
    "reports/metrics/export/cpu-int4.json.lineage.json", "reports/report.md.lineage.json",
    "reports/report.html.lineage.json", "data/07_model_output/predictions.jsonl.lineage.json",
]


def _git(root: Path, *args: str) -> str:
    return run(root, "git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args).stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_run):
    """A copy of the session's tiny run: some tests here change files or run Kedro outside DVC."""
    return copy_of(tiny_run, tmp_path_factory.mktemp("lineage") / "a")


def _run_commit(root: Path) -> str:
    """The commit the tiny run was made at: its results were committed after it, as HEAD."""
    return _git(root, "rev-parse", "HEAD~1")


def _record(root: Path, relative: str) -> dict:
    return json.loads((root / relative).read_text())


def _lineage(root: Path, *args: str, check: bool = True):
    return run(root, "slmops", "lineage", *args, check=check)


def test_every_artifact_has_a_record_with_code_and_versions(project):
    missing = [r for r in RECORDS if not (project / r).is_file()]
    assert not missing
    adapter = _record(project, "data/06_models/adapter.lineage.json")
    assert adapter["code"] == {"commit": _run_commit(project), "dirty": False}
    assert {"python", "torch", "transformers", "peft", "kedro", "dvc"} <= set(adapter["versions"])
    assert adapter["params"]["train"]["lora"]["r"] == 4
    assert "onnxruntime-genai" in _record(project, f"{ONNX}.lineage.json")["versions"]
    assert {"base_model", "train", "export"} <= set(_record(project, "reports/report.md.lineage.json")["params"])


def test_no_artifact_holds_a_machine_path(project, tiny_run, tiny_model_dir):
    machine = [str(tiny_run).encode(), str(project).encode(), str(tiny_model_dir).encode()]  # made in tiny_run
    offenders = [str(p.relative_to(project)) for folder in ("data", "reports") for p in (project / folder).rglob("*")
                 if p.is_file() and "08_reporting" not in p.parts and any(m in p.read_bytes() for m in machine)]
    assert not offenders
    config = json.loads((project / "data/06_models/adapter/adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "models/tiny"
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    base_out = next(o for o in lock["stages"]["base_model"]["outs"] if o["path"] == "data/06_models/base_model")
    assert _record(project, "data/06_models/adapter.lineage.json")["base_model"] == {
        "name_or_path": "models/tiny", "md5": base_out["md5"]}


def test_recorded_hashes_equal_dvc_lock(project):
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    locked = {e["path"]: e["md5"] for stage in lock["stages"].values() for e in stage.get("deps", []) + stage["outs"]}
    compared = 0
    for relative in RECORDS:
        record = _record(project, relative)
        for entry in record["inputs"]:
            if entry["path"] in locked:
                assert entry["md5"] == locked[entry["path"]], (relative, entry["path"])
                compared += 1
        artifact = relative.removesuffix(".lineage.json")
        if (project / artifact).is_file():  # a single file: its own md5 is dvc.lock's out hash
            assert record["files"] == {Path(artifact).name: locked[artifact]}
        else:  # a folder: its files as recorded, and nothing else in it (the record lies beside it)
            whole, files = folder_hashes(project / artifact)
            assert record["files"] == files and whole == locked[artifact], relative
        compared += 1
    assert compared >= 30
    assert any(e["path"] == RAW for e in _record(project, "data/02_intermediate/records.jsonl.lineage.json")["inputs"])


def _walk(chain: dict):
    yield chain
    for entry in chain["inputs"]:
        yield entry
        if entry["lineage"]:
            yield from _walk(entry["lineage"])


def test_lineage_traces_an_onnx_file_back_to_the_raw_file(project):
    chain = json.loads(_lineage(project, f"{ONNX}/model.onnx", "--json").stdout)
    assert chain["artifact"] == ONNX and chain["base_model"]["name_or_path"] == "models/tiny"
    raw = [e for e in _walk(chain) if e.get("path") == RAW]
    raw_md5 = hashlib.md5((project / RAW).read_bytes()).hexdigest()
    assert raw and all(e["md5"] == raw_md5 and e["lineage"] is None for e in raw)
    made = {e["lineage"]["dataset"] for e in _walk(chain) if isinstance(e.get("lineage"), dict)}
    assert {"merged_model", "base_model", "train_examples", "examples", "records"} <= made
    tree = _lineage(project, f"{ONNX}/model.onnx").stdout
    assert f"raw_records: {RAW} md5 {raw_md5[:12]}  (raw data)" in tree
    assert "source models/tiny" in tree and "(see above)" in tree


def test_chain_markdown_embeds_the_chain(project):
    from slmops.lineage import chain_markdown

    text = chain_markdown(project / ONNX, project)
    raw_md5 = hashlib.md5((project / RAW).read_bytes()).hexdigest()
    assert text.startswith(f"`{ONNX}`: made by export/build_onnx_model")
    assert "Code " in text
    assert f"`{RAW}` md5 `{raw_md5[:12]}` (raw data)" in text and "Base model models/tiny" in text


@pytest.mark.parametrize("artifact, changed", [
    ("data/06_models/adapter", "data/06_models/adapter/adapter_model.safetensors"),
    (ONNX, f"{ONNX}/model.onnx"),
])
def test_verify_names_each_modified_file(project, artifact, changed):
    assert _lineage(project, "--verify", artifact).returncode == 0
    original = (project / changed).read_bytes()
    try:
        (project / changed).write_bytes(original + b"\0")
        result = _lineage(project, "--verify", artifact, check=False)
        assert result.returncode == 1
        assert f"MISMATCH {changed}: content changed" in result.stdout
        if artifact == ONNX:  # what was made from it sees the changed input too
            report = _lineage(project, "--verify", "reports/metrics/export/cpu-int4.json", "--json", check=False)
            named = {m["path"] for m in json.loads(report.stdout)["mismatches"]}
            assert report.returncode == 1 and {changed, ONNX} <= named
    finally:
        (project / changed).write_bytes(original)
    assert _lineage(project, "--verify", artifact).returncode == 0


def test_a_path_without_lineage_is_a_one_line_error(project):
    result = _lineage(project, "dvc.yaml", check=False)
    assert result.returncode == 2, result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error: ")] == [
        "error: dvc.yaml: no lineage record (no dvc.yaml.lineage.json); artifacts get one when a pipeline "
        "stage writes them (`dvc repro`)"]


DECLARED = """import json
from dvc.repo import Repo
with Repo(".") as repo:
    read = repo.artifacts.read()
print(json.dumps({n: a.to_dict() for artifacts in read.values() for n, a in artifacts.items()}))"""


def test_dvc_artifacts_declare_the_shipped_models(project):
    # In a subprocess: DVC in the test process would log to streams pytest has closed.
    declared = json.loads(run(project, sys.executable, "-c", DECLARED).stdout)
    assert {"adapter", "merged-model", "onnx-cpu-int4"} <= set(declared)
    for artifact in declared.values():
        assert artifact["type"] == "model" and artifact["desc"] and artifact["labels"]
        assert (project / f"{artifact['path']}.lineage.json").is_file()
        assert not (project / artifact["path"] / "lineage.json").exists()  # beside the folder, not in its hash


def test_a_second_clone_makes_byte_identical_models(project, tmp_path_factory):
    clone = tmp_path_factory.mktemp("lineage-b") / "clone"
    run(project.parent, "git", "clone", "-q", str(project), str(clone))
    run(clone, "git", "checkout", "-q", _run_commit(project))  # the code and params the run was made from
    run(clone, "dvc", "repro", "train")
    for folder in ("data/06_models/adapter", "data/06_models/merged_model"):
        names = sorted(p.relative_to(project / folder) for p in (project / folder).rglob("*") if p.is_file())
        assert names == sorted(p.relative_to(clone / folder) for p in (clone / folder).rglob("*") if p.is_file())
        different = [str(n) for n in names if (project / folder / n).read_bytes() != (clone / folder / n).read_bytes()]
        assert not different, folder


def test_mlflow_logs_the_run_to_a_local_store(project):
    """Last: it reruns the report outside DVC."""
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    assert not (project / "mlruns").exists()  # off by default: the fixture's run logged nothing
    run(project, "kedro", "run", "--pipelines", "report", "--params", "lineage.mlflow.enabled=true")
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlruns/mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("slmops").experiment_id])
    assert len(runs) == 1
    logged = runs[0]
    evaluation = json.loads((project / "reports/metrics/eval.json").read_text())
    assert logged.data.params["train.lora.r"] == "4"
    assert logged.data.metrics["eval.tuned.f1"] == pytest.approx(evaluation["tuned"]["f1"])
    assert logged.data.tags["slmops.commit"] == _git(project, "rev-parse", "HEAD")
    artifacts = Path(logged.info.artifact_uri.removeprefix("file://"))
    chain = json.loads((artifacts / "lineage/onnx-cpu-int4.json").read_text())
    assert chain["artifact"] == ONNX
    assert (artifacts / "models/adapter/adapter_config.json").read_bytes() == \
        (project / "data/06_models/adapter/adapter_config.json").read_bytes()
    assert (artifacts / f"models/onnx-cpu-int4/genai_config.json").is_file()
