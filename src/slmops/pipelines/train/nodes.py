"""The `train` node: turns catalog paths into a training job, runs it (one process or many), returns the outputs.

Training itself takes folder paths, not in-memory models, so it runs the same under
`accelerate launch` as in this process (see `job.py`, `run.py`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from slmops.config import TrainParams, parse
from slmops.errors import InputDataError
from slmops.modeling.bundle import ModelBundle
from slmops.pipelines.train.job import TrainJob
from slmops.pipelines.train.launch import run_job, world_size
from slmops.pipelines.train.run_folder import model_files, prepare_run_folder, remove_checkpoints, run_fingerprint


def train_model(base_model: ModelBundle, train_examples_path: Path, validation_examples_path: Path,
                train_params: dict[str, Any], checkpoint_dir: Path, tensorboard_dir: Path
                ) -> tuple[Path, Path, dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train; return the adapter folder, the merged model folder, metrics, the two loss curves and the resource curve."""
    params: TrainParams = parse(TrainParams, train_params, "train")
    for split in (train_examples_path, validation_examples_path):
        if not Path(split).is_file():
            raise InputDataError(str(split), "file not found (run the split stage first)")
    processes = world_size(params.distributed)
    fingerprint = run_fingerprint(train_params, processes, [Path(train_examples_path), Path(validation_examples_path),
                                                            *model_files(base_model.path)])
    run_folder = prepare_run_folder(Path(checkpoint_dir), fingerprint)
    outputs = run_folder / "outputs"
    shutil.rmtree(outputs, ignore_errors=True)
    job = TrainJob(
        base_model=str(base_model.path), train_split=str(train_examples_path),
        validation_split=str(validation_examples_path), params=train_params, run_folder=str(run_folder),
        tensorboard_dir=str(Path(tensorboard_dir) / fingerprint), outputs=str(outputs),
        trust_remote_code=base_model.trust_remote_code,
    )
    run_job(job, params.distributed)
    metrics = json.loads(job.metrics_file.read_text())
    train_loss = pd.read_csv(job.train_loss_file)
    validation_loss = pd.read_csv(job.validation_loss_file)
    resources = pd.read_csv(job.resources_file)
    # Checkpoints exist to survive a crash; the finished outputs are moved into place by the catalog.
    remove_checkpoints(run_folder)
    return job.adapter_dir, job.merged_model_dir, metrics, train_loss, validation_loss, resources
