"""Token encoding and the two collators: the fast one must give the same loss as the plain one."""

from __future__ import annotations

import pytest

from slmops.modeling.encoding import (
    IGNORE_INDEX,
    CompletionCollator,
    CompletionOnlyLogitsCollator,
    encode_example,
)

pytestmark = pytest.mark.fast  # in `make test-fast`


def test_loss_is_masked_on_the_prompt(smollm2_tokenizer):
    prompt = "<|im_start|>user\nplay jazz<|im_end|>\n<|im_start|>assistant\n"
    encoded = encode_example(smollm2_tokenizer, prompt, "PlayMusic<|im_end|>\n", max_length=256)
    prompt_len = len(smollm2_tokenizer(prompt)["input_ids"])
    assert encoded["labels"][:prompt_len] == [IGNORE_INDEX] * prompt_len
    assert encoded["labels"][prompt_len:] == encoded["input_ids"][prompt_len:]
    assert smollm2_tokenizer.decode(encoded["input_ids"][prompt_len:]) == "PlayMusic<|im_end|>\n"


def test_truncation_drops_the_start_of_the_prompt_never_the_completion(smollm2_tokenizer):
    prompt = "word " * 200
    encoded = encode_example(smollm2_tokenizer, prompt, "Answer<|im_end|>", max_length=32)
    assert encoded["length"] == 32
    assert smollm2_tokenizer.decode([t for t in encoded["labels"] if t != IGNORE_INDEX]) == "Answer<|im_end|>"


@pytest.mark.parametrize("lengths", [[(6, 2), (3, 1)], [(10, 3), (10, 3), (4, 2)]])
def test_completion_only_logits_give_the_same_loss_and_gradients(tiny_bundle, lengths):
    import torch

    model = tiny_bundle.model
    model.train()
    torch.manual_seed(1)
    features = []
    for total, completion in lengths:
        ids = torch.randint(10, 1000, (total,)).tolist()
        features.append({"input_ids": ids, "labels": [IGNORE_INDEX] * (total - completion) + ids[-completion:]})
    losses, grads = [], []
    for collate in (CompletionCollator(pad_token_id=0), CompletionOnlyLogitsCollator(pad_token_id=0)):
        model.zero_grad()
        loss = model(**collate(features)).loss
        loss.backward()
        losses.append(float(loss))
        grads.append(model.model.layers[0].mlp.up_proj.weight.grad.clone())
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_completion_only_collator_keeps_just_the_completion_window():
    batch = CompletionOnlyLogitsCollator(pad_token_id=0)([
        {"input_ids": [5, 6, 7, 8], "labels": [IGNORE_INDEX, IGNORE_INDEX, 7, 8]},
        {"input_ids": [9, 10], "labels": [IGNORE_INDEX, 10]},
    ])
    assert batch["logits_to_keep"] == 3
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8], [0, 0, 9, 10]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3], [0, 0, 0, 1]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 7, 8], [IGNORE_INDEX, IGNORE_INDEX, 10]]
