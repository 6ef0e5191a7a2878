"""Run one sweep trial as a DVC experiment, read its objective, and prune it from a file the train stage writes."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from slmops.commands.olive import hydra_value
from slmops.errors import ConfigError
from slmops.sweep.space import Pruning


def read_metric(root: Path, spec: str) -> float:
    """`reports/metrics/eval.json:tuned.f1` -> that number."""
    path, _, key = spec.partition(":")
    if not key:
        raise ConfigError(f"objective.metric {spec!r}: write <metrics file>:<key>, e.g. reports/metrics/eval.json:tuned.f1")
    file = root / path
    if not file.is_file():
        raise ConfigError(f"objective.metric {spec!r}: {path} not found after the run")
    value: Any = json.loads(file.read_text(encoding="utf-8"))
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ConfigError(f"objective.metric {spec!r}: {path} has no key {key!r}")
        value = value[part]
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ConfigError(f"objective.metric {spec!r}: {value!r} is not a number")
    return float(value)


def overrides(values: dict[str, Any]) -> list[str]:
    return [arg for key, value in values.items() for arg in ("-S", f"{key}={hydra_value(value)}")]


@dataclass
class Outcome:
    state: optuna.trial.TrialState
    log: str


class PruningWatch:
    """Reads `pruning.file` while a trial runs: each new row is reported to Optuna; prune when it says so."""

    def __init__(self, root: Path, pruning: Pruning, trial: optuna.Trial, started: float):
        self.file, self.pruning, self.trial, self.started = root / pruning.file, pruning, trial, started
        self.seen: set[int] = set()

    def should_stop(self) -> bool:
        # A file older than the trial is the previous run's: DVC deletes and rewrites it when train runs.
        if not self.file.is_file() or self.file.stat().st_mtime < self.started:
            return False
        try:
            rows = list(csv.DictReader(self.file.read_text(encoding="utf-8").splitlines()))
        except (OSError, csv.Error):
            return False  # being rewritten: read it on the next poll
        for row in rows:
            try:
                step, value = int(float(row[self.pruning.step])), float(row[self.pruning.value])
            except (KeyError, TypeError, ValueError):
                continue
            if step in self.seen:
                continue
            self.seen.add(step)
            self.trial.report(value if self.pruning.direction == "minimize" else -value, step)
            if step >= self.pruning.warmup_steps and self.trial.should_prune():
                return True
        return False


def run_watched(command: list[str], root: Path, watch: PruningWatch | None, log: Path,
                poll_seconds: float = 1.0) -> Outcome:
    """Run ``command`` (output to ``log``); if ``watch`` says prune, stop its whole process group.

    Our `kedro run` turns the SIGTERM into an interrupt and restores the stage's previous outputs.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as out:
        process = subprocess.Popen(command, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        while process.poll() is None:
            if watch is not None and watch.should_stop():
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                return Outcome(optuna.trial.TrialState.PRUNED, log.read_text(encoding="utf-8"))
            time.sleep(poll_seconds)
    state = optuna.trial.TrialState.COMPLETE if process.returncode == 0 else optuna.trial.TrialState.FAIL
    return Outcome(state, log.read_text(encoding="utf-8"))
