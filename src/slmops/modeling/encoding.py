"""Token ids for prompt/completion pairs, with the loss on the completion only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

IGNORE_INDEX = -100  # labels the loss skips (PyTorch cross-entropy's ignore_index)


def encode_example(tokenizer: Any, prompt: str, completion: str, max_length: int) -> dict[str, list[int]]:
    """Tokenize prompt and completion apart, exactly as generation will see the prompt.

    Too-long rows lose the start of the prompt, never the completion the loss is computed on.
    """
    prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    overflow = len(prompt_ids) + len(completion_ids) - max_length
    if overflow > 0:
        prompt_ids = prompt_ids[overflow:]
    input_ids = prompt_ids + completion_ids
    labels = [IGNORE_INDEX] * len(prompt_ids) + completion_ids
    return {"input_ids": input_ids, "labels": labels, "length": len(input_ids), "truncated": overflow > 0}


def encode_examples(tokenizer: Any, examples: list[dict[str, Any]], max_length: int) -> list[dict[str, Any]]:
    return [encode_example(tokenizer, e["prompt"], e["completion"], max_length) for e in examples]


@dataclass
class CompletionCollator:
    """Pads a batch to its own longest row (not to max_length): padding is wasted compute on CPU."""

    pad_token_id: int

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        input_ids, labels, attention = [], [], []
        for f in features:
            pad = width - len(f["input_ids"])
            input_ids.append(list(f["input_ids"]) + [self.pad_token_id] * pad)
            labels.append(list(f["labels"]) + [IGNORE_INDEX] * pad)
            attention.append([1] * len(f["input_ids"]) + [0] * pad)
        return {"input_ids": torch.tensor(input_ids), "labels": torch.tensor(labels),
                "attention_mask": torch.tensor(attention)}


@dataclass
class CompletionOnlyLogitsCollator:
    """Left-pads so every row's completion ends at the right edge, then asks the model for logits there only.

    The loss needs logits only where a completion token is predicted. Computing the vocabulary
    projection (49k wide for SmolLM2) for every prompt position as well is a fifth of the FLOPs and
    most of the memory traffic of a step on CPU. Position ids are passed explicitly so left padding
    does not shift the positions the model sees.
    """

    pad_token_id: int

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        # The window starts at the last prompt token, which predicts the first completion token.
        keep = 1 + max(sum(1 for label in f["labels"] if label != IGNORE_INDEX) for f in features)
        keep = min(keep, width)
        input_ids, labels, attention, positions = [], [], [], []
        for f in features:
            length = len(f["input_ids"])
            pad = width - length
            input_ids.append([self.pad_token_id] * pad + list(f["input_ids"]))
            labels.append(([IGNORE_INDEX] * pad + list(f["labels"]))[width - keep:])
            attention.append([0] * pad + [1] * length)
            positions.append([0] * pad + list(range(length)))
        return {"input_ids": torch.tensor(input_ids), "attention_mask": torch.tensor(attention),
                "position_ids": torch.tensor(positions), "labels": torch.tensor(labels), "logits_to_keep": keep}
