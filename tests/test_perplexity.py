"""Completion perplexity with the batch's shared prompt prefix run once equals the row-by-row figure."""

from __future__ import annotations

import pytest

from slmops.modeling.encoding import IGNORE_INDEX, encode_example
from slmops.modeling.generation import completion_nll

pytestmark = pytest.mark.fast  # in `make test-fast`

SYSTEM = "<|im_start|>system\nClassify the intent of the user request.<|im_end|>\n<|im_start|>user\n"
ROWS = [("play some jazz", "PlayMusic"), ("book a table for two at eight tonight", "BookRestaurant"),
        ("will it rain in paris tomorrow", "GetWeather"), ("add this song to my list", "AddToPlaylist")]


def _row_nll(bundle, example) -> tuple[float, int]:
    import torch

    encoded = encode_example(bundle.tokenizer, example["prompt"], example["completion"], 1024)
    ids, labels = torch.tensor([encoded["input_ids"]]), torch.tensor([encoded["labels"]])
    with torch.inference_mode():
        logits = bundle.model(input_ids=ids).logits
    nll = torch.nn.functional.cross_entropy(logits[0, :-1], labels[0, 1:], ignore_index=IGNORE_INDEX,
                                            reduction="sum")
    return float(nll), int((labels[0, 1:] != IGNORE_INDEX).sum())


def test_shared_prefix_perplexity_equals_each_row_alone(tiny_bundle):
    examples = [{"prompt": f"{SYSTEM}{text}<|im_end|>\n<|im_start|>assistant\n", "completion": f"{label}<|im_end|>\n"}
                for text, label in ROWS]
    head_calls = []
    hook = tiny_bundle.model.lm_head.register_forward_hook(lambda *_: head_calls.append(1))
    batched = completion_nll(tiny_bundle, examples, batch_size=3)  # a batch of 3 sharing the prefix, then 1 alone
    hook.remove()
    assert head_calls == [1, 1]  # the prefix ran through the layers only
    for (nll, tokens), example in zip(batched, examples, strict=True):
        want_nll, want_tokens = _row_nll(tiny_bundle, example)
        assert tokens == want_tokens and nll == pytest.approx(want_nll, rel=1e-4, abs=1e-4)
