"""The train stage under `accelerate launch`: 2-process DDP on CPU (gloo) on the tiny model."""

from __future__ import annotations

import shutil

from conftest import ROOT
from helpers.training import train_tiny


def test_two_process_ddp_trains_on_both_ranks_and_writes_one_adapter(tmp_path, monkeypatch, tiny_model_dir, examples):
    shutil.copytree(ROOT / "conf/accelerate", tmp_path / "conf/accelerate")
    monkeypatch.chdir(tmp_path)  # accelerate configs are named relative to the project root
    adapter, merged, metrics, history, *_ = train_tiny(tmp_path, tiny_model_dir, examples, distributed="ddp",
                                                      epochs=1, lora={"r": 4, "alpha": 8, "dropout": 0.0})
    assert metrics["world_size"] == 2
    assert metrics["rows_per_rank"] == [16, 16]  # each rank trained on its half of the 32 rows
    assert metrics["steps"] == 2  # 32 rows / (8 per rank x 2 ranks)
    assert [p.parent for p in tmp_path.rglob("adapter_config.json")] == [adapter]
    assert (merged / "model.safetensors").is_file()
    assert len(list((tmp_path / "tb").rglob("events.out.tfevents.*"))) == 1
    assert not list((tmp_path / "ck").rglob("checkpoint-*"))
