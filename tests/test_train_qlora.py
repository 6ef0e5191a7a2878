"""QLoRA: a 4-bit NF4 base (bitsandbytes) on CPU and CUDA, its AVX512-BF16 guard, and where it cannot run."""

from __future__ import annotations

import pytest

from slmops.config import TrainParams, parse
from slmops.config import train as train_config
from slmops.errors import ConfigError

QLORA = TrainParams(method="qlora", lora={"r": 4, "alpha": 8, "dropout": 0.0})


def _lora_gradients(model, batch) -> list:
    model.zero_grad()
    model(**batch).loss.backward()
    return [p.grad.clone() for _, p in sorted(model.named_parameters()) if p.requires_grad]


def _gradients_after_a_validation_forward(tiny_model_dir, smollm2_tokenizer, guarded: bool):
    import torch

    from slmops.pipelines.train.loading import load_base_model
    from slmops.pipelines.train.methods import wrap_for_training

    torch.manual_seed(0)
    model = wrap_for_training(load_base_model(tiny_model_dir, QLORA), QLORA)
    if not guarded:
        import bitsandbytes as bnb

        for module in model.modules():
            if isinstance(module, bnb.nn.Linear4bit):
                module.support_avx512bf16_for_cpu = True
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.05)
    ids = smollm2_tokenizer(["play some jazz now", "book a table now"], return_tensors="pt", padding=True)["input_ids"]
    batch = {"input_ids": ids, "labels": ids}
    model.train()
    before = _lora_gradients(model, batch)
    model.eval()
    with torch.no_grad():  # what a validation pass does
        model(input_ids=ids)
    model.train()
    after = _lora_gradients(model, batch)
    return before, after


def test_gradients_after_a_no_grad_validation_forward_are_unchanged(tiny_model_dir, smollm2_tokenizer):
    import torch

    before, after = _gradients_after_a_validation_forward(tiny_model_dir, smollm2_tokenizer, guarded=True)
    assert before and all(torch.allclose(a, b, atol=1e-6) for a, b in zip(before, after, strict=True))


@pytest.mark.skipif(not train_config.cpu_has_flag("avx512_bf16"), reason="the trap needs a CPU with AVX512-BF16")
def test_without_the_guard_this_cpu_corrupts_the_gradients(tiny_model_dir, smollm2_tokenizer):
    """Proves the guard is what keeps the test above passing on this CPU."""
    import torch

    before, after = _gradients_after_a_validation_forward(tiny_model_dir, smollm2_tokenizer, guarded=False)
    assert not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(before, after, strict=True))


def test_qlora_without_bitsandbytes_stops_at_start_up(monkeypatch):
    monkeypatch.setattr(train_config.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="needs the bitsandbytes package.*use method 'lora'"):
        parse(TrainParams, {"method": "qlora"}, "train")


def test_qlora_without_avx2_or_cuda_stops_at_start_up(monkeypatch):
    monkeypatch.setattr(train_config, "_cuda_available", lambda: False)
    monkeypatch.setattr(train_config, "cpu_has_flag", lambda flag: False)
    with pytest.raises(ConfigError, match="needs x86-64 with AVX2.*use method 'lora'"):
        parse(TrainParams, {"method": "qlora"}, "train")


@pytest.mark.skipif("not __import__('torch').cuda.is_available()", reason="needs a CUDA GPU")
def test_qlora_on_cuda_trains_in_bf16(tmp_path, tiny_model_dir, examples):
    from helpers.training import train_tiny

    adapter, merged, metrics, history, *_ = train_tiny(tmp_path, tiny_model_dir, examples, method="qlora",
                                                      max_steps=3, lora={"r": 4, "alpha": 8, "dropout": 0.0})
    assert metrics["device"] == "cuda" and metrics["compute_dtype"] == "bfloat16"
    assert (adapter / "adapter_config.json").is_file() and (merged / "model.safetensors").is_file()
    assert history["loss"].notna().all()
