"""The optional "labels listed in the prompt" base run: a fair baseline for classification.

The base model never saw the label set; without being told it, it answers in sentences and
scores zero, which overstates what fine-tuning gained. This run appends the label list to the
user's message in the already templated prompt, whatever the chat template.
"""

from __future__ import annotations

from typing import Any

from slmops.errors import ConfigError

LABEL_HINT = "\n\nAnswer with exactly one of these labels: {labels}."


def with_label_list(example: dict[str, Any], labels: list[str]) -> str:
    """The row's prompt with the label list right after the user's text (its last occurrence)."""
    prompt, user = example["prompt"], example["input"]
    at = prompt.rfind(user)
    if not user or at < 0:
        raise ConfigError("params.yaml: evaluate.base_with_label_list: the templated prompt of row "
                          f"{example.get('id')} does not contain the user's text verbatim, so the label list "
                          "cannot be inserted; set evaluate.base_with_label_list: false")
    end = at + len(user)
    return prompt[:end] + LABEL_HINT.format(labels=", ".join(labels)) + prompt[end:]
