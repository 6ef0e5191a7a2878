"""The train stage under `accelerate launch`: 2-process DDP on CPU (gloo) on the tiny model."""

from __future__ import annotations

import shutil

from conftest import ROOT
from helpers.training import train_tiny


def test_two_process_ddp_trains_on_both_ranks_and_writes_one_adapter(tmp_path, monkeypatch, tiny_model_dir, examples):
    shutil.copytree(ROOT / "conf/accelerate", tmp_path / "conf/accelerate")
    monkeypatch.chdir(tmp_path)  # accelerate configs are named relative to the project root
    adapter, merged, metrics, history, _, resources = train_tiny(
        tmp_path, tiny_model_dir, examples, distributed="ddp", epochs=1, lora={"r": 4, "alpha": 8, "dropout": 0.0})
    assert metrics["world_size"] == 2
    assert metrics["rows_per_rank"] == [16, 16]  # each rank trained on its half of the 32 rows
    assert metrics["steps"] == 2  # 32 rows / (8 per rank x 2 ranks)
    assert [p.parent for p in tmp_path.rglob("adapter_config.json")] == [adapter]
    assert (merged / "model.safetensors").is_file()
    events = list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    assert len(events) == 1
    # Each rank measured itself; rank 0 gathered the other's rows into the curve and TensorBoard.
    assert sorted(set(resources["rank"])) == [0, 1] and (resources["rss_mb"] > 0).all()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    assert {"resources/rss_mb", "resources/rank1/rss_mb"} <= set(accumulator.Tags()["scalars"])
    assert not list((tmp_path / "ck").rglob("checkpoint-*"))
