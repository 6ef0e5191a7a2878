"""`slmops sweep`: Optuna picks params.yaml values, each trial is a DVC experiment, the best is named."""

from __future__ import annotations

import json
import sys
import textwrap
import time

import optuna
import pytest
from project import copy_of, reproduced_tiny_project, run

from slmops.errors import ConfigError
from slmops.sweep.space import Pruning, load_space
from slmops.sweep.trials import PruningWatch, read_metric, run_watched


def test_a_sweep_file_is_checked_with_a_clear_message(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("strategy: grid\nparams:\n  train.learning_rate: {type: float, low: 1.0e-4, high: 1.0e-3}\n")
    with pytest.raises(ConfigError, match="train.learning_rate: a grid needs finite values"):
        load_space(space)
    space.write_text("strategy: annealing\nparams:\n  train.seed: {type: int, low: 1, high: 3}\n")
    with pytest.raises(ConfigError, match="strategy"):
        load_space(space)


def test_any_number_in_any_metrics_file_is_an_objective(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps({"decode": {"speedup": 6.5}, "target": "cpu-int4"}))
    assert read_metric(tmp_path, "m.json:decode.speedup") == 6.5
    with pytest.raises(ConfigError, match="is not a number"):
        read_metric(tmp_path, "m.json:target")


def test_pruning_reads_the_validation_loss_file_and_stops_the_run(tmp_path):
    """A stand-in training run writes a worse loss each step than the finished trial did: it is stopped.

    The default pruning file is reports/plots/validation_loss.csv with columns step and validation_loss,
    as the train stage writes it.
    """
    study = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    good = study.ask()
    for step in range(1, 4):
        good.report(0.5, step)
    study.tell(good, 0.5)
    writer = textwrap.dedent("""
        import time, pathlib
        path = pathlib.Path("reports/plots/validation_loss.csv"); path.parent.mkdir(parents=True, exist_ok=True)
        rows = ["step,validation_loss"]
        for step in range(1, 100):
            rows.append(f"{step},{2.0 + step}"); path.write_text("\\n".join(rows) + "\\n"); time.sleep(0.2)
    """)
    trial = study.ask()
    started = time.time()
    outcome = run_watched([sys.executable, "-c", writer], tmp_path,
                          PruningWatch(tmp_path, Pruning(), trial, started - 1),
                          tmp_path / "trial.log", poll_seconds=0.1)
    assert outcome.state is optuna.trial.TrialState.PRUNED
    assert time.time() - started < 10, "the run was stopped, not waited for"


def test_three_trials_on_the_tiny_model_and_a_repeat_restores_from_the_run_cache(tmp_path, tmp_path_factory,
                                                                                  tiny_model_dir, snips_rows):
    project = copy_of(reproduced_tiny_project(tmp_path_factory, tiny_model_dir, snips_rows), tmp_path / "p")
    # Random sampling with this seed draws train.seed 42 (the committed run), 7 (trains), 42 again: the last
    # returns to a parameter set DVC has run, so it must restore from the run-cache instead of training.
    (project / "space.yaml").write_text(textwrap.dedent("""
        strategy: random
        trials: 3
        seed: 0
        params:
          train.seed: {type: choice, choices: [7, 42]}
          train.lora.alpha: {type: int, low: 8, high: 8}
    """))
    result = run(project, "slmops", "sweep", "space.yaml")
    out = result.stdout
    assert "reports/metrics/export/cpu-int4.json:onnx.f1" in out  # the default objective: int4 F1
    table = [line.split() for line in out.splitlines() if line.startswith("sweep-")]
    assert [(row[1], row[3]) for row in table] == [("complete", "42"), ("complete", "7"), ("complete", "42")], out
    best = out.split("best: ")[1].split()[0]
    assert f"dvc exp apply {best}" in out
    names = [row[0] for row in table]
    logs = [(project / ".dvc/tmp/sweep" / f"{name}.log").read_text() for name in names]
    assert "Running stage 'train'" in logs[1]
    assert "Stage 'train' is cached - skipping run, checking out outputs" in logs[2], logs[2][-2000:]
    assert "Running stage 'train'" not in logs[2]
    shown = run(project, "dvc", "exp", "show", "--json", "--no-pager").stdout
    assert all(name in shown for name in names), "every trial is a DVC experiment"
    table = run(project, "slmops", "exp", "show").stdout.splitlines()
    header = next(line for line in table if line.startswith("Experiment"))
    assert header.split()[:8] == ["Experiment", "rev", "tuned", "F1", "ONNX", "F1", "decode", "tok/s"]
    assert "train.seed" in header and "train.epochs" not in header  # then only what varies
    assert sum(name in "\n".join(table) for name in names) == 3
