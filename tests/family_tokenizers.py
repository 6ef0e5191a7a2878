"""Each model family's chat template and special tokens on a copy of the SmolLM2 tokenizer.

Tests have no model hub, so a family's tokenizer is SmolLM2's vocabulary plus that family's own
special tokens (added at the end of the vocabulary) and its published chat template, kept in
tests/chat_templates/<key>.jinja. A tiny random model of vocab ``len(tokenizer)`` can use it.

tests/chat_templates/<key>.json says, per family:
  source            the model whose tokenizer_config.json the template and tokens come from
  bos, eos, pad     its special tokens (null: the family has none; pad null means eos)
  end_of_turn       the token that ends an assistant turn (what generation must stop at)
  special           further special (control) tokens; ``added``: plain added tokens
  generation_eos    the eos list of the model's generation_config.json
  system_role       whether the template accepts a system message
  answer_prefix, turn_suffix
                    the completion the template writes for an answer is
                    answer_prefix + answer + turn_suffix
  chat_template     false for a base model without one (then slmops uses plain text)
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "chat_templates"
FAMILY_KEYS = ("llama3", "qwen2", "qwen3", "phi3", "gemma", "gemma2", "gemma3", "mistral", "granite", "olmo",
               "smollm3", "phi2", "nemotron")


def family_spec(family_key: str) -> dict[str, Any]:
    """The family's <key>.json (see the module docstring)."""
    if family_key not in FAMILY_KEYS:
        raise KeyError(f"unknown family '{family_key}'; one of {', '.join(FAMILY_KEYS)}")
    return json.loads((TEMPLATES / f"{family_key}.json").read_text(encoding="utf-8"))


def tokenizer_for(family_key: str, base_tokenizer: Any) -> Any:
    """A copy of ``base_tokenizer`` (the ``smollm2_tokenizer`` fixture) with the family's template and tokens."""
    from transformers import AddedToken

    spec = family_spec(family_key)
    tokenizer = copy.deepcopy(base_tokenizer)  # the session fixture is shared: never change it in place
    named = {name: spec[name] for name in ("bos", "eos", "pad") if spec.get(name)}
    tokens = [*named.values(), spec["end_of_turn"], *spec["special"]]
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [AddedToken(t, special=True, normalized=False) for t in dict.fromkeys(tokens)]},
        replace_extra_special_tokens=True)
    if spec["added"]:  # e.g. Qwen3's <think>: one token each, but not a control token (decode keeps it)
        tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in spec["added"]])
    tokenizer.bos_token = spec.get("bos")
    tokenizer.eos_token = spec["eos"]
    tokenizer.pad_token = spec.get("pad") or spec["eos"]
    tokenizer.chat_template = (TEMPLATES / f"{family_key}.jinja").read_text(encoding="utf-8") \
        if spec["chat_template"] else None
    return tokenizer


def generation_eos_ids(family_key: str, tokenizer: Any) -> list[int]:
    """The ids the family's generation_config.json lists as eos, in this tokenizer's vocabulary."""
    return [tokenizer.convert_tokens_to_ids(t) for t in family_spec(family_key)["generation_eos"]]
