"""Where time and memory went: the training monitor, each stage's record, and the base on the int4 grid."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers.training import train_tiny

from slmops.resources.hook import stage_name

PIPELINE_STAGES = {"base_model", "ingest", "template", "split", "train", "evaluate", "export@cpu-int4",
                   "evaluate_onnx@cpu-int4", "report"}


def test_stage_names_follow_dvc_stage_names():
    assert stage_name({"pipeline_names": ["train"], "runtime_params": {}}) == "train"
    assert stage_name({"pipeline_names": ["export"], "runtime_params": {"target": "cpu-int4"}}) == "export@cpu-int4"
    assert stage_name({"pipeline_names": None, "runtime_params": None}) == "all"


def test_training_records_throughput_memory_and_cpu_every_logging_step(tmp_path, tiny_model_dir, examples):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, _, metrics, _, _, resources = train_tiny(tmp_path, tiny_model_dir, examples, max_steps=4, logging_steps=2)
    assert resources["step"].tolist() == [1, 2, 4] and set(resources["rank"]) == {0}  # the first step is logged too
    assert (resources["tokens_per_second"] > 0).all() and (resources["samples_per_second"] > 0).all()
    assert (resources["seconds_per_step"] > 0).all() and (resources["cpu_percent"] > 0).all()
    assert resources["elapsed_seconds"].is_monotonic_increasing
    # A process holding torch and a model holds more than 100 MB (in a long test session the allocator may have
    # returned memory by the time training runs, so RSS can fall below what it was before training).
    assert resources["rss_mb"].min() > 100 and metrics["rss_before_training_mb"] > 100
    assert metrics["peak_rss_mb"] >= 0.98 * max(resources["rss_mb"].max(), metrics["rss_before_training_mb"])
    assert resources["gpu_allocated_mb"].isna().all(), "no GPU figures on a CPU"
    assert 0 < metrics["monitoring_seconds"] and 0 < metrics["monitoring_share"] < 1
    assert metrics["matmul_peak_gflops"] > 0 and metrics["model_gflops_per_second"] > 0
    assert metrics["matmul_utilisation"] == pytest.approx(
        metrics["model_gflops_per_second"] / metrics["matmul_peak_gflops"], rel=0.02, abs=2e-4)
    events = EventAccumulator(str(tmp_path / "tb" / metrics["tensorboard_run"]))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"resources/tokens_per_second", "resources/rss_mb", "resources/cpu_percent", "train/loss"} <= tags
    steps = [e.step for e in events.Scalars("resources/rss_mb")]
    assert steps == [1, 2, 4]


@pytest.fixture(scope="module")
def tiny_project(tiny_run):
    return tiny_run


def test_every_stage_records_its_time_memory_and_machine(tiny_project):
    records = {p.stem: json.loads(p.read_text()) for p in (tiny_project / "reports/resources/stages").glob("*.json")}
    assert PIPELINE_STAGES <= set(records)
    for name, record in records.items():
        assert record["stage"] == name
        assert record["wall_seconds"] >= record["startup_seconds"] > 0
        assert record["wall_seconds"] == pytest.approx(record["startup_seconds"] + record["nodes_seconds"], abs=0.05)
        assert record["peak_rss_mb"] > 50, "a Python process running Kedro holds more than 50 MB"
        machine = record["machine"]
        assert machine["cpu"] and 1 <= machine["usable_cpus"] <= machine["logical_cpus"]
        assert machine["memory_gib"] > 0 and isinstance(machine["simd"], list)
    # Training and evaluation load the model and torch; ingest loads neither.
    assert records["train"]["peak_rss_mb"] > records["ingest"]["peak_rss_mb"]
    curve = pd.read_csv(tiny_project / "reports/resources/train.csv")
    assert len(curve) and (curve["tokens_per_second"] > 0).all()
    assert not list((tiny_project / "reports/resources").glob("*.lineage.json")), "volatile figures: no record"


def test_no_tensorboard_event_file_holds_the_project_path(tiny_project):
    events = list((tiny_project / "data/08_reporting/tensorboard").rglob("events.out.tfevents.*"))
    assert events
    for event in events:
        data = event.read_bytes()
        assert b"checkpoints" in data, "the arguments are logged (relative to the project)"
        assert str(tiny_project).encode() not in data and str(tiny_project.resolve()).encode() not in data


def test_a_changed_time_reruns_nothing_and_dvc_metrics_show_it(tiny_project, tmp_path):
    from project import copy_of, run, stale_stages

    project = copy_of(tiny_project, tmp_path / "p")
    record = project / "reports/resources/stages/train.json"
    changed = dict(json.loads(record.read_text()), wall_seconds=12345.6, peak_rss_mb=7777.7)
    record.write_text(json.dumps(changed))
    (project / "reports/resources/train.csv").write_text("rank,step,tokens_per_second\n0,1,1.0\n")
    assert stale_stages(project) == set()
    shown = json.loads(run(project, "dvc", "metrics", "show", "--json").stdout)
    metrics = next(iter(shown.values()))["data"]
    assert metrics["reports/resources/stages/train.json"]["data"]["wall_seconds"] == 12345.6


def test_the_base_on_the_int4_grid_is_scored_and_splits_the_gain(tiny_project, tiny_model_dir):
    import torch

    from slmops.metrics import evaluation_rows
    from slmops.modeling.bundle import ModelBundle
    from slmops.modeling.generation import completion_nll
    from slmops.modeling.quantization import round_to_int4_grid

    metrics = json.loads((tiny_project / "reports/metrics/eval.json").read_text())
    params = __import__("yaml").safe_load((tiny_project / "params.yaml").read_text())
    block = params["train"]["quantization_aware"]["block_size"]
    assert metrics["grid"] == {"bits": 4, "block_size": block, "target": "merged"}
    for key in ("f1", "accuracy", "perplexity"):
        assert metrics["delta_tuning"][key] + metrics["delta_grid"][key] == pytest.approx(metrics["delta"][key], abs=2e-4)
        low, high = metrics["intervals"]["delta_grid"][key]
        assert low <= metrics["delta_grid"][key] <= high
    # The same perplexity computed here, on a base rounded layer by layer.
    bundle = ModelBundle(path=tiny_model_dir)
    with torch.no_grad():
        for module in bundle.model.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.copy_(round_to_int4_grid(module.weight.detach().clone(), block))
    rows = evaluation_rows([json.loads(line) for line in
                            (tiny_project / "data/05_model_input/validation.jsonl").read_text().splitlines()], None)
    nll = completion_nll(bundle, rows, 8)
    tokens = sum(count for _, count in nll)
    direct = float(torch.exp(torch.tensor(sum(total for total, _ in nll) / tokens)))
    assert metrics["base_on_grid"]["perplexity"] == pytest.approx(direct, rel=1e-3)
    assert metrics["base_on_grid"]["perplexity"] != pytest.approx(metrics["base"]["perplexity"], rel=1e-4)


def test_the_docs_figures_are_those_the_committed_run_wrote():
    import subprocess
    import sys

    from conftest import ROOT

    checked = subprocess.run([sys.executable, str(ROOT / "scripts/run_figures.py"), "--check"],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
