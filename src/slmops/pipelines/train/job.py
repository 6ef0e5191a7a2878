"""A training job as folder paths and params: what the trainer needs in any process, one or many.

The Kedro node writes ``job.json`` into the run folder; ``python -m slmops.pipelines.train.entry job.json``
runs it, alone or under ``accelerate launch``. Paths are relative to the project root (the
working directory of every process), so no artifact records a path of this machine.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TrainJob:
    base_model: str  # HF model folder
    train_split: str  # JSON Lines of prompt/completion rows
    validation_split: str
    params: dict[str, Any]  # params.yaml `train` section
    run_folder: str  # checkpoints of this run (keyed by its fingerprint)
    tensorboard_dir: str
    outputs: str  # where rank 0 leaves adapter/, merged_model/, metrics.json, *_loss.csv
    trust_remote_code: bool = False

    @property
    def adapter_dir(self) -> Path:
        return Path(self.outputs) / "adapter"

    @property
    def merged_model_dir(self) -> Path:
        return Path(self.outputs) / "merged_model"

    @property
    def metrics_file(self) -> Path:
        return Path(self.outputs) / "metrics.json"

    @property
    def train_loss_file(self) -> Path:
        return Path(self.outputs) / "train_loss.csv"

    @property
    def validation_loss_file(self) -> Path:
        return Path(self.outputs) / "validation_loss.csv"

    @property
    def resources_file(self) -> Path:
        return Path(self.outputs) / "resources.csv"

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> TrainJob:
        return cls(**json.loads(Path(path).read_text()))


def read_rows(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
