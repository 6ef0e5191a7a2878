"""Running a training job: in this process, or on many through `accelerate launch` with a shipped config."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from slmops.config.train import ACCELERATE_CONFIGS
from slmops.errors import SlmopsError
from slmops.pipelines.train.entry import ERROR_FILE
from slmops.pipelines.train.job import TrainJob
from slmops.pipelines.train.run import run_training

log = logging.getLogger(__name__)


def accelerate_config(name: str) -> dict[str, Any]:
    return yaml.safe_load((ACCELERATE_CONFIGS / f"{name}.yaml").read_text()) or {}


def world_size(distributed: str | None) -> int:
    return 1 if distributed is None else int(accelerate_config(distributed).get("num_processes", 1))


def launch_command(distributed: str, job_file: Path) -> list[str]:
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
            str(ACCELERATE_CONFIGS / f"{distributed}.yaml"), "-m", "slmops.pipelines.train.entry", str(job_file)]


def run_job(job: TrainJob, distributed: str | None) -> None:
    if distributed is None:
        run_training(job)
        return
    job_file = Path(job.run_folder) / "job.json"
    job.save(job_file)
    (job_file.parent / ERROR_FILE).unlink(missing_ok=True)
    command = launch_command(distributed, job_file)
    if int(accelerate_config(distributed).get("num_machines", 1)) > 1:
        log.info("Multi-node: on every other node, from the same project folder on a shared filesystem, run: "
                 "%s", " ".join(command[:5] + ["--machine_rank", "<N>"] + command[5:]))
    log.info("Training on %d processes: %s", world_size(distributed), " ".join(command))
    status = subprocess.run(command, check=False).returncode  # output streams to this console
    error_file = job_file.parent / ERROR_FILE
    if error_file.is_file():
        raise SlmopsError(error_file.read_text())
    if status != 0:
        raise RuntimeError(f"accelerate launch exited with status {status} (its output is above)")
