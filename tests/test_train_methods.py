"""Each training method end to end on the tiny model, writing what evaluate/export/report read."""

from __future__ import annotations

import json

import pytest
from merging import give_adapter_values, logits_of
from helpers.training import train_tiny

from slmops.config import TrainParams, parse
from slmops.errors import ConfigError
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.quantization import fake_quantize

QAT = {"block_size": 32}


def _on_grid(model) -> bool:
    import torch

    return all(torch.equal(m.weight, fake_quantize(m.weight, 32))
               for m in model.modules() if isinstance(m, torch.nn.Linear))


@pytest.mark.parametrize("method, aware", [("dora", QAT), ("qlora", None), ("full", QAT), ("full", None)])
def test_each_method_trains_and_writes_the_merged_model(tmp_path, tiny_model_dir, examples, method, aware):
    adapter, merged, metrics, history, *_ = train_tiny(
        tmp_path, tiny_model_dir, examples, method=method, max_steps=3, learning_rate=0.005,
        lora={"r": 4, "alpha": 8, "dropout": 0.0}, quantization_aware=aware)
    assert metrics["method"] == method and metrics["steps"] == 3
    model = ModelBundle(path=merged).model
    assert not any("lora" in name for name, _ in model.named_modules())
    assert next(model.parameters()).dtype.is_floating_point  # a plain model, not 4-bit
    if method == "full":
        assert (adapter / "README.md").is_file() and not (adapter / "adapter_config.json").exists()
        assert metrics["trainable_parameters"] == metrics["total_parameters"]
    else:
        config = json.loads((adapter / "adapter_config.json").read_text())
        assert config["use_dora"] == (method == "dora")
    assert _on_grid(model) == (aware is not None)
    assert history["loss"].notna().all()


def test_full_fine_tuning_changes_every_layer(tmp_path, tiny_model_dir, examples):
    import torch

    _, merged, *_ = train_tiny(tmp_path, tiny_model_dir, examples, method="full", max_steps=2)
    before, after = ModelBundle(path=tiny_model_dir).model, ModelBundle(path=merged).model
    changed = [not torch.equal(a, b) for a, b in zip(before.parameters(), after.parameters(), strict=True)]
    assert all(changed)


@pytest.mark.parametrize("method", ["lora", "dora", "full"])
def test_quantization_aware_merge_is_exactly_the_trained_model(tiny_model_dir, smollm2_tokenizer, method):
    import torch

    from slmops.pipelines.train.methods import merge_for_export, wrap_for_training

    params = TrainParams(method=method, lora={"r": 4, "alpha": 8, "dropout": 0.0}, quantization_aware=QAT)
    model = wrap_for_training(ModelBundle(path=tiny_model_dir).model, params)
    give_adapter_values(model, only=None)  # something to merge: adapters, magnitudes, or the weights themselves
    trained = logits_of(model, smollm2_tokenizer)
    merged = merge_for_export(model, params)
    assert _on_grid(merged)
    assert torch.allclose(trained, logits_of(merged, smollm2_tokenizer), atol=1e-4)


def test_quantization_aware_dora_without_rounding_is_peft_dora(tiny_model_dir, smollm2_tokenizer, monkeypatch):
    """The rounded DoRA forward is PEFT's DoRA with the weight rounded: with rounding off, they agree."""
    import torch

    from slmops.pipelines.train import quantization_aware
    from slmops.pipelines.train.methods import wrap_for_training

    lora = {"r": 4, "alpha": 8, "dropout": 0.0}
    plain = wrap_for_training(ModelBundle(path=tiny_model_dir).model, TrainParams(method="dora", lora=lora))
    monkeypatch.setattr(quantization_aware, "fake_quantize", lambda weight, block: weight)
    monkeypatch.setattr(quantization_aware, "round_weights_in_place", lambda linears, block: None)
    aware = wrap_for_training(ModelBundle(path=tiny_model_dir).model,
                              TrainParams(method="dora", lora=lora, quantization_aware=QAT))
    give_adapter_values(plain, only=None)
    with torch.no_grad():  # the same adapter in both (PEFT starts lora_A at random)
        for (_, a), (_, b) in zip(plain.named_parameters(), aware.named_parameters(), strict=True):
            if a.requires_grad:
                b.copy_(a)
    assert torch.allclose(logits_of(plain, smollm2_tokenizer), logits_of(aware, smollm2_tokenizer), atol=1e-4)


def test_quantization_aware_base_target_rounds_only_the_base(tiny_model_dir, smollm2_tokenizer):
    import torch

    from slmops.pipelines.train.methods import merge_for_export, wrap_for_training

    params = TrainParams(lora={"r": 4, "alpha": 8, "dropout": 0.0}, quantization_aware={"target": "base"})
    model = wrap_for_training(ModelBundle(path=tiny_model_dir).model, params)
    bases = [m.base_layer for m in model.modules() if hasattr(m, "base_layer") and hasattr(m, "lora_A")]
    assert bases and all(torch.equal(b.weight, fake_quantize(b.weight, 32)) for b in bases)
    give_adapter_values(model)
    trained = logits_of(model, smollm2_tokenizer)
    merged = merge_for_export(model, params)
    assert not _on_grid(merged)  # Q(W) + scale * B A: the adapter stays in float beside the int4 base
    assert torch.allclose(trained, logits_of(merged, smollm2_tokenizer), atol=1e-4)


@pytest.mark.parametrize("method", ["lora", "dora", "full"])
def test_quantization_aware_forward_works_with_bf16_weights(tiny_model_dir, smollm2_tokenizer, method):
    """bf16 weights (as on CUDA) with PEFT's fp32 adapters: the rounded weight follows the activations' dtype."""
    import torch
    from transformers import AutoModelForCausalLM

    from slmops.pipelines.train.methods import merge_for_export, wrap_for_training

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.bfloat16)
    params = TrainParams(method=method, lora={"r": 4, "alpha": 8, "dropout": 0.0}, quantization_aware=QAT)
    model = wrap_for_training(base, params)
    ids = smollm2_tokenizer("play some jazz", return_tensors="pt")["input_ids"]
    out = model(input_ids=ids, labels=ids)
    out.loss.backward()
    assert out.logits.dtype == torch.bfloat16
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    merged = merge_for_export(model, params)  # grid values need fp32: bf16 cannot hold code x scale exactly
    assert next(merged.parameters()).dtype == torch.float32 and _on_grid(merged)


@pytest.mark.parametrize("changes, message", [
    ({"method": "qlora", "quantization_aware": QAT}, "does not combine with method 'qlora'"),
    ({"method": "dora", "quantization_aware": {"target": "base"}}, "target 'base'"),
    ({"method": "full", "quantization_aware": {"target": "base"}}, "target 'base'"),
    ({"validation_steps": None, "early_stopping": {"patience": 2}}, "set train.validation_steps"),
    ({"distributed": "nonesuch"}, "no accelerate config"),
    ({"loss": {"function": "not a path"}}, "train.loss.function"),
])
def test_unsupported_combinations_stop_at_start_up(changes, message):
    with pytest.raises(ConfigError, match=message):
        parse(TrainParams, {"lora": {"dropout": 0.0}, **changes}, "train")
