"""What the template stage tells a user about their rows: control tokens, conflicts, classes, length."""

from __future__ import annotations

from collections import Counter
from typing import Any

from slmops.notices import warn_user

# Labels this many times rarer than the commonest are hard to learn; say so.
IMBALANCE_RATIO = 20
ZERO_WIDTH_SPACE = "\u200b"


def control_tokens(tokenizer: Any) -> list[str]:
    """Strings the tokenizer turns into special (control) tokens, longest first."""
    tokens = set(getattr(tokenizer, "all_special_tokens", []) or [])
    for added in (getattr(tokenizer, "added_tokens_decoder", {}) or {}).values():
        if getattr(added, "special", False):
            tokens.add(str(added))
    return sorted((t for t in tokens if t), key=len, reverse=True)


def defuse(text: str, tokens: list[str]) -> tuple[str, str | None]:
    """``text`` with each control-token string broken by a zero-width space, and the first one found.

    The chat template's own control tokens and those inside user text are the same string once
    rendered; only breaking the user's copy keeps them from being tokenized as control tokens.
    """
    found = None
    for token in tokens:
        if token in text:
            found = found or token
            text = text.replace(token, token[0] + ZERO_WIDTH_SPACE + token[1:])
    return text, found


def warn_conflicting_labels(examples: list[dict[str, Any]], where: Any) -> None:
    first: dict[str, dict[str, Any]] = {}
    conflicts = []
    for example in examples:
        seen = first.setdefault(example["prompt"], example)
        if seen["label"] != example["label"]:
            conflicts.append((seen, example))
    if conflicts:
        a, b = conflicts[0]
        warn_user(f"{where(a)} and {where(b, short=True)}: the same prompt has labels '{a['label']}' and "
                  f"'{b['label']}' ({len(conflicts)} such row(s)); fix the wrong one or remove it")


def warn_class_balance(examples: list[dict[str, Any]], source: str, label_field: str) -> None:
    counts = Counter(e["label"] for e in examples)
    if len(counts) == 1:
        warn_user(f"{source}, field '{label_field}': every row has the label '{next(iter(counts))}': a classifier "
                  "learns nothing from one class; add rows of other labels, or set template.label_field: null "
                  "for a free-text task")
        return
    (common, most), *_, (rare, least) = counts.most_common()
    if most >= IMBALANCE_RATIO * least:
        warn_user(f"{source}, field '{label_field}': labels are severely imbalanced ('{common}' {most} rows, "
                  f"'{rare}' {least}); the model may never predict the rare ones; add rows of them or "
                  "downsample the common ones")


def warn_truncated(examples: list[dict[str, Any]], tokenizer: Any, max_length: int, where: Any) -> None:
    """Count rows longer than train.max_length tokens (training cuts them) and name one."""
    longest, too_long = None, 0
    # Byte-level tokenizers never make more tokens than UTF-8 bytes (+ a few added ones), so only rows
    # that long can be over the limit: tokenizing only those keeps a million rows fast.
    candidates = [e for e in examples if len((e["prompt"] + e["completion"]).encode("utf-8")) + 8 > max_length]
    batch = 512
    for start in range(0, len(candidates), batch):
        part = candidates[start:start + batch]
        ids = tokenizer([e["prompt"] + e["completion"] for e in part], add_special_tokens=False)["input_ids"]
        for example, tokens in zip(part, ids, strict=True):
            if len(tokens) > max_length:
                too_long += 1
                if longest is None or len(tokens) > longest[1]:
                    longest = (example, len(tokens))
    if too_long:
        example, length = longest
        warn_user(f"{where(example)}: {too_long} of {len(examples)} rows are longer than train.max_length "
                  f"({max_length} tokens) and will be cut in training, this one most ({length} tokens); "
                  "raise train.max_length or shorten them")
