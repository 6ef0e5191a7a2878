"""Train, merge and evaluate on a tiny random Llama with the real tokenizer."""

from __future__ import annotations

import pytest

from slmops.config import EvaluateParams, TrainParams
from slmops.errors import UnsupportedError
from slmops.modeling.bundle import ModelBundle
from slmops.pipelines.evaluate.nodes import evaluate_models
from slmops.pipelines.template.nodes import apply_template
from slmops.pipelines.train.methods import wrap_for_training
from slmops.pipelines.train.nodes import train_adapter
from slmops.pipelines.train.run_folder import prepare_run_folder

TEMPLATE = {"system": "Classify.", "prompt": "{text}", "completion": "{label}", "label_field": "label"}
DATA = {"source": "data/01_raw/snips-intents.jsonl", "required_fields": ["text", "label"]}


@pytest.fixture(scope="module")
def examples(snips_rows, smollm2_tokenizer):
    records = [dict(r, id=f"r{i}", source_line=i + 1) for i, r in enumerate(snips_rows[:40])]
    return apply_template(records, TEMPLATE, DATA, ModelBundle(model=object(), tokenizer=smollm2_tokenizer))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir, examples):
    work = tmp_path_factory.mktemp("train")
    params = {"epochs": 2, "batch_size": 8, "learning_rate": 0.01, "logging_steps": 1, "save_steps": 3,
              "lora": {"r": 4, "alpha": 8}}
    result = train_adapter(ModelBundle(path=tiny_model_dir), examples[:32], params, work / "ck", work / "tb")
    return result, work


def test_training_lowers_the_loss_and_reports_its_numbers(trained):
    (adapter, merged, metrics, history), _ = trained
    assert metrics["steps"] == 8  # 32 rows / batch 8 x 2 epochs
    assert metrics["train_rows"] == 32 and metrics["tokens_per_second"] > 0
    assert 0 < metrics["trainable_parameters"] < metrics["total_parameters"]
    assert list(history.columns) == ["step", "epoch", "loss", "learning_rate"]
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]


def test_merged_model_matches_the_adapter_model(trained, smollm2_tokenizer):
    import torch

    (adapter, merged, _, _), _ = trained
    assert not any("lora" in name for name, _ in merged.model.named_modules())
    ids = smollm2_tokenizer("play some jazz", return_tensors="pt")["input_ids"]
    adapter.eval()
    with torch.inference_mode():
        assert torch.allclose(adapter(input_ids=ids).logits, merged.model(input_ids=ids).logits, atol=1e-4)


def test_checkpoints_and_tensorboard_logs(trained):
    _, work = trained
    assert list((work / "ck").iterdir()) == []  # removed once training completed
    assert list((work / "tb").rglob("events.out.tfevents.*"))


def test_an_identical_cut_off_run_resumes_and_others_are_cleared(tmp_path):
    stale = tmp_path / "other" / "checkpoint-4"
    stale.mkdir(parents=True)
    mine = tmp_path / "abc" / "checkpoint-8"
    mine.mkdir(parents=True)
    (mine / "trainer_state.json").write_text("{}")
    (tmp_path / "abc" / "checkpoint-12").mkdir()  # cut off while saving: no trainer_state.json
    folder, resume = prepare_run_folder(tmp_path, "abc")
    assert folder == tmp_path / "abc"
    assert resume == str(mine)
    assert not (tmp_path / "other").exists()


def test_dora_adds_magnitude_vectors(tiny_model_dir):
    model = wrap_for_training(ModelBundle(path=tiny_model_dir).model, TrainParams(method="dora", lora={"r": 2}))
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert any("lora_magnitude_vector" in name for name in trainable)
    assert all("lora_" in name for name in trainable)


def test_unbuilt_methods_say_so():
    with pytest.raises(UnsupportedError, match="qlora"):
        wrap_for_training(object(), TrainParams(method="qlora"))


def test_evaluate_compares_base_and_tuned(trained, tiny_model_dir, examples):
    (_, merged, _, _), _ = trained
    validation = examples[32:40]
    params = EvaluateParams(max_new_tokens=4, batch_size=4, sample_count=3, base_with_label_list=True).model_dump()
    metrics, details, samples, predictions = evaluate_models(ModelBundle(path=tiny_model_dir), merged, validation,
                                                             params)
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
    row = predictions[0]
    assert row["reference"] == validation[0]["label"] and row["prompt_tokens"] > row["completion_tokens"] > 0
    assert {"base", "base_answer", "base_truncated", "tuned_answer", "base_with_label_list"} <= set(row)
