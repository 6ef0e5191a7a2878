"""Run-cache on, persist off: a failed stage still loses nothing.

Returning to a parameter set DVC has run restores from the run-cache: tested with a sweep (test_sweep.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from project import ALWAYS_RUN, copy_of, edited_params, reproduced_tiny_project, run, stages_run

TRAIN_OUTPUTS = ["data/06_models/adapter", "data/06_models/merged_model", "reports/metrics/train.json",
                 "reports/plots/train_loss.csv"]


@pytest.fixture
def project(tmp_path, tmp_path_factory, tiny_model_dir, snips_rows):
    return copy_of(reproduced_tiny_project(tmp_path_factory, tiny_model_dir, snips_rows), tmp_path / "p")


def fingerprint(project: Path, paths: list[str]) -> dict[str, str]:
    """Every file under ``paths`` with the md5 of its bytes."""
    files = {}
    for path in paths:
        root = project / path
        for file in sorted([root] if root.is_file() else root.rglob("*")):
            if file.is_file():
                files[str(file.relative_to(project))] = hashlib.md5(file.read_bytes()).hexdigest()
    return files


def test_no_output_is_persisted_so_the_run_cache_is_on():
    stages = yaml.safe_load((Path(__file__).parents[1] / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        for kind in ("outs", "metrics", "plots"):
            for out in stage.get(kind, []):
                options = next(iter(out.values())) if isinstance(out, dict) else {}
                assert not options.get("persist"), (name, out)


def test_a_failed_stage_gets_its_previous_outputs_back(project):
    before = fingerprint(project, TRAIN_OUTPUTS)
    later = fingerprint(project, ["data/07_model_output", "reports/metrics/eval.json", "reports/report.md"])
    lock = (project / "dvc.lock").read_bytes()
    # Fails inside the train node (PEFT finds no such module), after DVC deleted train's outputs.
    with edited_params(project, {"train.lora.target_modules": ["no_such_module"]}):
        result = run(project, "dvc", "repro", check=False)
    assert result.returncode != 0
    assert "restored train's previous outputs from DVC's cache" in result.stderr
    assert fingerprint(project, TRAIN_OUTPUTS) == before  # byte for byte, cache: false metrics and plots too
    assert fingerprint(project, ["data/07_model_output", "reports/metrics/eval.json", "reports/report.md"]) == later
    assert (project / "dvc.lock").read_bytes() == lock
    assert stages_run(run(project, "dvc", "repro").stdout) == [ALWAYS_RUN]  # nothing else reran
    assert not list(project.rglob(".*.tmp-*")), "staging leftovers"
