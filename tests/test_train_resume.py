"""Resumable after kill -9: `dvc repro train` killed after its first complete checkpoint resumes from it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from project import copy_of, project_env, read_params, write_params

from slmops.pipelines.train.callbacks import COMPLETE_MARKER
from slmops.pipelines.train.run_folder import run_fingerprint

# A user loss (train.loss.function) that takes a while, so the run is still going when it is killed.
SLOW_LOSS = """import time
import torch

def loss(logits, labels, num_items_in_batch=None):
    time.sleep(0.4)
    per_token = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100, reduction="sum")
    return per_token / (num_items_in_batch if num_items_in_batch is not None else (labels != -100).sum())
"""


def _env(project: Path) -> dict[str, str]:
    env = project_env()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(project), env.get("PYTHONPATH", "")) if p)
    return env


def test_a_killed_train_stage_resumes_and_finishes_with_the_same_steps(tmp_path, tiny_run):
    project = copy_of(tiny_run, tmp_path / "p")  # every stage up to split done, on 56 rows (8 per intent)
    (project / "slow_loss.py").write_text(SLOW_LOSS)
    params = read_params(project)
    params["train"].update(epochs=2, save_steps=2, loss={"label_smoothing": 0.0, "class_weights": False,
                                                         "function": "slow_loss:loss"})
    write_params(project, params)

    process = subprocess.Popen(["dvc", "repro", "train"], cwd=project, env=_env(project), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(project.glob(f"data/06_models/checkpoints/*/checkpoint-*/{COMPLETE_MARKER}")):
        assert process.poll() is None, "training ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # dvc and the kedro run it started, mid-training
    process.wait()
    assert not (project / "reports/metrics/train.json").exists()

    result = subprocess.run(["dvc", "repro", "train"], cwd=project, env=_env(project), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((project / "reports/metrics/train.json").read_text())
    assert metrics["resumed_from_step"] is not None and metrics["resumed_from_step"] >= 2
    assert metrics["steps"] == 12  # 42 rows / batch 8 = 6 steps an epoch, 2 epochs: as an uninterrupted run
    # Rows trained after resuming are those of the steps left: the resumed run did not start over.
    assert sum(metrics["rows_per_rank"]) < 2 * 42
    assert (project / "data/06_models/adapter/adapter_config.json").is_file()
    assert not list(project.glob("data/06_models/checkpoints/*/checkpoint-*"))


def test_other_params_data_or_base_weights_never_share_a_checkpoint_folder(tmp_path):
    split, weights = tmp_path / "train.jsonl", tmp_path / "model.safetensors"
    split.write_text('{"prompt": "a", "completion": "b"}\n')
    weights.write_bytes(b"\x00" * 64)
    reference = run_fingerprint({"learning_rate": 0.1}, 1, [split, weights])
    assert run_fingerprint({"learning_rate": 0.1}, 1, [split, weights]) == reference
    assert run_fingerprint({"learning_rate": 0.2}, 1, [split, weights]) != reference
    assert run_fingerprint({"learning_rate": 0.1}, 2, [split, weights]) != reference
    split.write_text('{"prompt": "a", "completion": "c"}\n')
    assert run_fingerprint({"learning_rate": 0.1}, 1, [split, weights]) != reference
    split.write_text('{"prompt": "a", "completion": "b"}\n')
    weights.write_bytes(b"\x01" + b"\x00" * 63)
    assert run_fingerprint({"learning_rate": 0.1}, 1, [split, weights]) != reference
