"""The training controls in params.yaml: steps, accumulation, checkpointing, schedules, truncation, early stopping."""

from __future__ import annotations

import pytest
from helpers.training import train_tiny


def test_max_steps_accumulation_checkpointing_constant_schedule_and_truncation(tmp_path, tiny_model_dir, examples):
    _, _, metrics, history, validation, _ = train_tiny(
        tmp_path, tiny_model_dir, examples, max_steps=3, gradient_accumulation_steps=2, gradient_checkpointing=True,
        lr_scheduler="constant", warmup_ratio=0.0, max_length=24, learning_rate=0.003)
    assert metrics["steps"] == 3 and metrics["max_steps"] == 3  # not the 2 epochs also set
    assert metrics["rows_per_rank"] == [3 * 2 * 8]  # each optimizer step took 2 batches of 8
    assert metrics["truncated_rows"] == 32  # every templated row is longer than 24 tokens
    assert metrics["attention"] == "eager"  # train.attention auto: short rows on a CPU
    assert set(history["learning_rate"].dropna()) == {0.003}
    assert validation.empty  # validation_steps not set


def test_cosine_schedule_decays_after_warmup(tmp_path, tiny_model_dir, examples):
    _, _, _, history, *_ = train_tiny(tmp_path, tiny_model_dir, examples, max_steps=6, lr_scheduler="cosine",
                                     warmup_ratio=0.34, learning_rate=0.01)
    rates = history["learning_rate"].tolist()
    peak = rates.index(max(rates))
    assert 0 < peak < len(rates) - 1 and max(rates) == pytest.approx(0.01, rel=0.05)
    assert rates[-1] < rates[peak] / 2


def test_early_stopping_on_the_validation_loss(tmp_path, tiny_model_dir, examples):
    # min_delta this large means no validation ever counts as an improvement after the first.
    _, _, metrics, _, validation, _ = train_tiny(tmp_path, tiny_model_dir, examples, validation_steps=1,
                                              early_stopping={"patience": 2, "min_delta": 100.0})
    assert metrics["early_stopped_at_step"] == 3 and metrics["steps"] == 3
    assert validation["step"].tolist() == [1, 2, 3]


def test_attention_auto_keeps_the_models_kernel_for_long_rows_and_the_choice_stays_out_of_the_model(
        tmp_path, tiny_model_dir, examples):
    (tmp_path / "short").mkdir()
    (tmp_path / "long").mkdir()
    _, merged, metrics, *_ = train_tiny(tmp_path / "short", tiny_model_dir, examples, max_steps=1)
    assert metrics["attention"] == "eager"
    config = (merged / "config.json").read_text()
    assert "eager" not in config and "sdpa" not in config  # a training choice: evaluation and export load the default
    _, _, metrics, *_ = train_tiny(tmp_path / "long", tiny_model_dir, examples, max_steps=1, max_length=320)
    assert metrics["attention"] == "sdpa"  # rows may run past 256 tokens: eager would keep length^2 scores
