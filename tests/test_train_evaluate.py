"""Train, merge and evaluate on a tiny random Llama with the real tokenizer."""

from __future__ import annotations

import pytest
from helpers.training import train_tiny

from slmops.config import EvaluateParams, TrainParams
from slmops.modeling.bundle import ModelBundle
from slmops.pipelines.evaluate.nodes import evaluate_models
from slmops.pipelines.train.methods import wrap_for_training
from slmops.pipelines.train.run_folder import latest_complete_checkpoint, prepare_run_folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir, examples):
    work = tmp_path_factory.mktemp("train")
    return train_tiny(work, tiny_model_dir, examples, validation_steps=4), work


def test_training_lowers_the_loss_and_reports_its_numbers(trained):
    (adapter, merged, metrics, history, validation, _), _ = trained
    assert metrics["steps"] == 8  # 32 rows / batch 8 x 2 epochs
    assert metrics["train_rows"] == 32 and metrics["tokens_per_second"] > 0
    assert metrics["world_size"] == 1 and metrics["rows_per_rank"] == [64]
    assert 0 < metrics["trainable_parameters"] < metrics["total_parameters"]
    assert metrics["truncated_rows"] == 0 and metrics["compute_dtype"] == "float32"
    assert list(history.columns) == ["step", "epoch", "loss", "learning_rate"]
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    assert list(validation.columns) == ["step", "epoch", "validation_loss"]
    assert validation["step"].tolist() == [4, 8]
    assert metrics["final_validation_loss"] == pytest.approx(validation["validation_loss"].iloc[-1])
    assert (adapter / "adapter_config.json").is_file() and (merged / "model.safetensors").is_file()


def test_merged_model_matches_the_adapter_model(trained, tiny_model_dir, smollm2_tokenizer):
    import torch
    from peft import PeftModel

    (adapter, merged, *_), _ = trained
    merged_model = ModelBundle(path=merged).model
    assert not any("lora" in name for name, _ in merged_model.named_modules())
    with_adapter = PeftModel.from_pretrained(ModelBundle(path=tiny_model_dir).model, adapter).eval()
    ids = smollm2_tokenizer("play some jazz", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        assert torch.allclose(with_adapter(input_ids=ids).logits, merged_model(input_ids=ids).logits, atol=1e-4)


def test_checkpoints_and_tensorboard_logs(trained):
    _, work = trained
    assert not list((work / "ck").rglob("checkpoint-*"))  # removed once training completed
    events = list((work / "tb").rglob("events.out.tfevents.*"))
    assert len(events) == 1


def test_only_a_complete_checkpoint_of_this_run_is_resumed(tmp_path):
    from slmops.pipelines.train.callbacks import COMPLETE_MARKER

    stale = tmp_path / "other" / "checkpoint-4"
    stale.mkdir(parents=True)
    (stale / COMPLETE_MARKER).write_text("4")
    mine = tmp_path / "abc" / "checkpoint-8"
    mine.mkdir(parents=True)
    (mine / COMPLETE_MARKER).write_text("8")
    half = tmp_path / "abc" / "checkpoint-12"  # cut off while saving: state written, marker not yet
    half.mkdir()
    (half / "trainer_state.json").write_text("{}")
    folder = prepare_run_folder(tmp_path, "abc")
    assert folder == tmp_path / "abc"
    assert latest_complete_checkpoint(folder) == mine
    assert not (tmp_path / "other").exists()


def test_dora_adds_magnitude_vectors(tiny_model_dir):
    model = wrap_for_training(ModelBundle(path=tiny_model_dir).model, TrainParams(method="dora", lora={"r": 2}))
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert any("lora_magnitude_vector" in name for name in trainable)
    assert all("lora_" in name for name in trainable)


def test_evaluate_compares_base_and_tuned(trained, tiny_model_dir, examples):
    (_, merged_folder, *_), _ = trained
    merged = ModelBundle(path=merged_folder)
    validation = examples[32:40]
    params = EvaluateParams(max_new_tokens=4, batch_size=4, sample_count=3, base_with_label_list=True).model_dump()
    metrics, details, samples, predictions = evaluate_models(ModelBundle(path=tiny_model_dir), merged, validation,
                                                             params, {"prompt_count": 2, "new_tokens": 3})
    assert metrics["rows"] == 8 and metrics["task"] == "classification"
    assert metrics["labels"] == sorted({e["label"] for e in validation})
    expected = {"accuracy", "f1", "macro_precision", "macro_recall", "unknown_label_share", "truncated_share"}
    for side in ("base", "tuned"):
        assert expected | {"perplexity", "seconds", "rows_per_second"} == set(metrics[side])
        assert metrics[side]["perplexity"] > 1
        assert set(metrics["intervals"][side]) == expected | {"perplexity"}
        assert set(details["per_class"][side]) == set(metrics["labels"])
        assert sum(map(sum, details["confusion"][side]["counts"])) == 8
    assert set(metrics["base_with_label_list"]) == expected | {"seconds", "rows_per_second"}  # no perplexity
    assert metrics["delta"]["f1"] == pytest.approx(metrics["tuned"]["f1"] - metrics["base"]["f1"], abs=1e-4)
    low, high = metrics["intervals"]["delta"]["f1"]
    assert low <= metrics["delta"]["f1"] <= high
    assert set(details["methods"]) >= expected | {"perplexity"} and details["bootstrap"]["resamples"] == 1000
    # Training lowered the completion loss, so the tuned model finds the answers less surprising.
    assert metrics["tuned"]["perplexity"] < metrics["base"]["perplexity"]
    assert len(samples["samples"]) == 3 and len(predictions) == 8
    # The fine-tuned model's decode speed, measured once here as every ONNX target's baseline.
    assert metrics["decode"]["prompts"] == 2 and metrics["decode"]["new_tokens"] == 3
    assert metrics["decode"]["tokens_per_second"] > 0 and metrics["decode"]["first_token_ms"] > 0
    row = predictions[0]
    assert row["reference"] == validation[0]["label"] and row["prompt_tokens"] > row["completion_tokens"] > 0
    assert {"base", "base_answer", "base_truncated", "tuned_answer", "base_with_label_list"} <= set(row)
