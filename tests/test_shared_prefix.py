"""A batch's shared prompt prefix computed once gives the loss and gradients of the whole rows."""

from __future__ import annotations

from contextlib import nullcontext
from copy import deepcopy

import pytest
from int4_references import count_roundings

from slmops.config import TrainParams
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.encoding import CompletionOnlyLogitsCollator, encode_example
from slmops.modeling.shared_prefix import SharedPrefixCollator, accept_shared_prefix, shared_prefix_length
from slmops.pipelines.train.methods import wrap_for_training

SYSTEM = "<|im_start|>system\nClassify the intent of the user request.<|im_end|>\n<|im_start|>user\n"
ROWS = [("play some jazz", "PlayMusic"), ("book a table for two at eight tonight", "BookRestaurant"),
        ("will it rain", "GetWeather")]


def _model(tiny_model_dir, quantization_aware=None, attention="sdpa"):
    """The tiny model wrapped for LoRA training (quantization-aware when asked), taking prefix_ids."""
    params = TrainParams(lora={"r": 4, "alpha": 8, "dropout": 0.0}, quantization_aware=quantization_aware)
    base = ModelBundle(path=tiny_model_dir).model
    base.set_attn_implementation(attention)
    return accept_shared_prefix(wrap_for_training(base, params))


def _features(tokenizer, system=SYSTEM):
    return [encode_example(tokenizer, f"{system}{text}<|im_end|>\n<|im_start|>assistant\n", f"{label}<|im_end|>\n", 256)
            for text, label in ROWS]


def test_prefix_stops_before_each_rows_last_prompt_token(smollm2_tokenizer):
    features = _features(smollm2_tokenizer)
    length = shared_prefix_length(features)
    assert length == len(smollm2_tokenizer(SYSTEM)["input_ids"])
    same = [features[0], dict(features[0])]  # identical rows: the whole prompt but its last token
    first_label = next(i for i, label in enumerate(features[0]["labels"]) if label >= 0)
    assert shared_prefix_length(same) == first_label - 1
    assert "prefix_ids" not in SharedPrefixCollator(smollm2_tokenizer.pad_token_id)(_features(smollm2_tokenizer, ""))


@pytest.mark.parametrize(("quantization_aware", "attention"), [(None, "sdpa"), ({"block_size": 32}, "sdpa"),
                                                                ({"block_size": 32}, "eager")])
def test_loss_and_gradients_match_the_whole_rows(tiny_model_dir, smollm2_tokenizer, quantization_aware, attention):
    import torch

    model = _model(tiny_model_dir, quantization_aware, attention)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.05)
    model.train()
    features = _features(smollm2_tokenizer)
    whole = CompletionOnlyLogitsCollator(smollm2_tokenizer.pad_token_id)(features)
    shared = SharedPrefixCollator(smollm2_tokenizer.pad_token_id)(features)
    assert shared["input_ids"].shape[1] < whole["input_ids"].shape[1] and torch.equal(shared["labels"], whole["labels"])
    trainable = [p for p in model.parameters() if p.requires_grad]
    reference = model(**whole).loss
    reference_grads = torch.autograd.grad(reference, trainable)
    head_calls = []
    hook = model.get_base_model().lm_head.register_forward_hook(lambda *_: head_calls.append(1))
    loss = model(**shared).loss
    hook.remove()
    assert head_calls == [1]  # the prefix runs through the layers only: its logits would go unused
    grads = torch.autograd.grad(loss, trainable)
    assert torch.allclose(loss, reference, atol=1e-5)
    for got, want in zip(grads, reference_grads):
        assert torch.allclose(got, want, rtol=1e-3, atol=1e-6)
    copy = deepcopy(model)  # the forward that takes prefix_ids is rebound to the copy, not kept on the original
    assert copy.forward.__self__ is copy and copy._slmops_forward.__self__ is copy


def test_a_step_rounds_each_quantization_aware_layer_once(monkeypatch, tiny_model_dir, smollm2_tokenizer):
    from peft.tuners.lora import Linear as LoraLinear

    from slmops.pipelines.train.quantization_aware import reusing_rounded_weights

    model = _model(tiny_model_dir, {"block_size": 32})
    calls = count_roundings(monkeypatch)
    batch = SharedPrefixCollator(smollm2_tokenizer.pad_token_id)(_features(smollm2_tokenizer))
    layers = sum(isinstance(m, LoraLinear) for m in model.modules())
    with reusing_rounded_weights(model):
        model(**batch).loss.backward()  # the prefix, then the rows: two forward calls
    assert len(calls) == layers
    model(**batch).loss.backward()  # outside a step (what the trainer wraps): every call rounds
    assert len(calls) == 3 * layers


def test_steps_with_the_rounding_reused_train_as_steps_without(tiny_model_dir, smollm2_tokenizer):
    import torch

    from slmops.pipelines.train.quantization_aware import reusing_rounded_weights

    def losses(reuse: bool) -> list[float]:
        torch.manual_seed(0)
        model = _model(tiny_model_dir, {"block_size": 32})
        # fused, as the Trainer's default: its in-place update leaves the version counters alone
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.005, fused=True)
        batch = SharedPrefixCollator(smollm2_tokenizer.pad_token_id)(_features(smollm2_tokenizer))
        result = []
        for _ in range(3):
            with reusing_rounded_weights(model) if reuse else nullcontext():
                loss = model(**batch).loss
                loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            result.append(loss.item())
        return result

    reused, plain = losses(True), losses(False)
    assert reused == plain and reused[-1] < reused[0]
