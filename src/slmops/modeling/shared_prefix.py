"""Compute the prompt prefix every row of a batch shares once, not once per row (forward and backward).

With a chat template and a system prompt, every training row starts with the same tokens (on the
default task 23 of a row's ~46: half of all tokens). A batch runs that prefix once, as a batch of
one, and its keys and values, expanded (not copied) to the batch, serve as the cache the rows'
own tokens attend to. Gradients flow back through the expansion, summed over the rows: the loss
and every gradient are those of the full rows, to float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slmops.modeling.encoding import IGNORE_INDEX, CompletionOnlyLogitsCollator


def shared_prefix_length(features: list[dict[str, Any]]) -> int:
    """Leading tokens all rows share, stopping before any row's last prompt token (it predicts the answer)."""
    first = features[0]["input_ids"]
    limit = min(next((i for i, label in enumerate(f["labels"]) if label != IGNORE_INDEX), len(f["labels"])) - 1
                for f in features)
    length = 0
    while length < limit and all(f["input_ids"][length] == first[length] for f in features):
        length += 1
    return length


@dataclass
class SharedPrefixCollator:
    """``CompletionOnlyLogitsCollator`` batches of the rows past their shared prefix, plus ``prefix_ids``.

    Below ``min_prefix`` shared tokens the batch is left whole (no ``prefix_ids``): the extra forward
    call would cost more than it saves.
    """

    pad_token_id: int
    min_prefix: int = 4

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        length = shared_prefix_length(features) if len(features) > 1 else 0
        collate = CompletionOnlyLogitsCollator(pad_token_id=self.pad_token_id)
        if length < self.min_prefix:
            return collate(features)
        rest = [{**f, "input_ids": list(f["input_ids"])[length:], "labels": list(f["labels"])[length:]}
                for f in features]
        batch = collate(rest)
        batch["position_ids"] = torch.where(batch["attention_mask"].bool(), batch["position_ids"] + length, 0)
        batch["prefix_ids"] = torch.tensor([list(features[0]["input_ids"])[:length]])
        return batch


def forward_with_shared_prefix(model: Any, prefix_ids: Any, input_ids: Any, attention_mask: Any,
                               decoder: Any = None, **kwargs: Any) -> Any:
    """The model's output for rows ``prefix_ids + input_ids`` (the loss included when ``labels`` is given).

    The prefix runs through ``decoder`` (the layers without the LM head) where given: its logits
    are never used, and a 49k-wide projection of even one position cost ~0.1 s a step on CPU.
    """
    import torch
    from transformers import DynamicCache

    rows = input_ids.shape[0]
    cache = DynamicCache()
    if decoder is not None:
        decoder(input_ids=prefix_ids, cache=cache, use_cache=True)
    else:
        model(input_ids=prefix_ids, cache=cache, use_cache=True, logits_to_keep=1)
    for layer in cache.layers:
        layer.keys = layer.keys.expand(rows, -1, -1, -1)
        layer.values = layer.values.expand(rows, -1, -1, -1)
    prefix_mask = torch.ones(rows, prefix_ids.shape[1], dtype=attention_mask.dtype, device=attention_mask.device)
    return model(input_ids=input_ids, attention_mask=torch.cat([prefix_mask, attention_mask], dim=1),
                 cache=cache, use_cache=True, **kwargs)


def _forward(self: Any, *args: Any, prefix_ids: Any = None, **kwargs: Any) -> Any:
    forward = self._slmops_forward
    if prefix_ids is None:
        return forward(*args, **kwargs)
    return forward_with_shared_prefix(forward, prefix_ids, *args, decoder=decoder_of(self), **kwargs)


def decoder_of(model: Any) -> Any:
    """The transformer layers under the LM head (through a PEFT wrapper), or None where the model has no such rule."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        decoder = base.get_decoder()
    except (AttributeError, ValueError):
        return None
    return None if decoder is base else decoder  # transformers' fallback: the model itself


def accept_shared_prefix(model: Any) -> Any:
    """Let ``model`` take ``SharedPrefixCollator`` batches: its forward accepts ``prefix_ids``.

    The Trainer then needs nothing else (its loss, loss scaling and logging stay its own). Bound
    with ``types.MethodType``, so a deep copy of the model is rebound to the copy.
    """
    import types

    if not hasattr(model, "_slmops_forward"):
        model._slmops_forward = model.forward
        model.forward = types.MethodType(_forward, model)
    return model
