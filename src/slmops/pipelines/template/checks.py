"""What the template stage tells a user about their rows: control tokens, conflicts, classes, length."""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from typing import Any

import numpy as np

from slmops.modeling.repeats import grouped, repeated
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


class ConflictingLabels:
    """The same prompt with two labels, found from small per-row state (an 8-byte prompt hash, the label's
    number, the row's line and split), not from the rows themselves."""

    SPLITS = (None, "validation", "test")

    def __init__(self) -> None:
        self._prompts, self._labels, self._lines, self._splits = array("Q"), array("i"), array("q"), array("b")
        self._label_ids: dict[str, int] = {}

    def add(self, example: dict[str, Any]) -> None:
        digest = hashlib.blake2b(example["prompt"].encode("utf-8"), digest_size=8).digest()
        self._prompts.append(int.from_bytes(digest, "big"))
        self._labels.append(self._label_ids.setdefault(example["label"], len(self._label_ids)))
        line = example.get("source_line")
        self._lines.append(-1 if line is None else line)
        self._splits.append(self.SPLITS.index(example.get("source_split")))

    def warn(self, where: Any) -> None:
        """``where(example, short)`` names a row as the warning prints it."""
        if not self._prompts:
            return
        every_prompt = np.frombuffer(self._prompts, dtype=np.uint64)
        candidates = repeated(every_prompt)  # rows whose prompt occurs again: only those can conflict
        prompts, labels = every_prompt[candidates], np.frombuffer(self._labels, dtype=np.int32)[candidates]
        order, starts = grouped(prompts)
        first_label = labels[order[starts]][np.cumsum(starts) - 1]  # the label of each group's first row
        conflicts = np.sort(order[labels[order] != first_label])
        if not len(conflicts):
            return
        b = int(conflicts[0])
        a = int(np.flatnonzero(prompts == prompts[b])[0])
        names = {index: label for label, index in self._label_ids.items()}
        warn_user(f"{where(self._row(int(candidates[a])))} and {where(self._row(int(candidates[b])), short=True)}: "
                  f"the same prompt has labels '{names[labels[a]]}' and '{names[labels[b]]}' ({len(conflicts)} "
                  "such row(s)); fix the wrong one or remove it")

    def _row(self, position: int) -> dict[str, Any]:
        line, split = self._lines[position], self.SPLITS[self._splits[position]]
        return {"source_line": None if line < 0 else line, **({"source_split": split} if split else {})}


def warn_class_balance(counts: Counter, source: str, label_field: str) -> None:
    """``counts``: rows per label, in the order labels first appear."""
    if len(counts) == 1:
        warn_user(f"{source}, field '{label_field}': every row has the label '{next(iter(counts))}': a classifier "
                  "learns nothing from one class; add rows of other labels, or set template.label_field: null "
                  "for a free-text task")
        return
    if not counts:
        return
    (common, most), *_, (rare, least) = counts.most_common()
    if most >= IMBALANCE_RATIO * least:
        warn_user(f"{source}, field '{label_field}': labels are severely imbalanced ('{common}' {most} rows, "
                  f"'{rare}' {least}); the model may never predict the rare ones; add rows of them or "
                  "downsample the common ones")


class TruncatedRows:
    """Count rows longer than train.max_length tokens (training cuts them) and name the longest."""

    BATCH = 512

    def __init__(self, tokenizer: Any, max_length: int):
        self._tokenizer, self._max_length = tokenizer, max_length
        self._pending: list[dict[str, Any]] = []
        self.rows, self.too_long, self.longest = 0, 0, None

    def add(self, example: dict[str, Any]) -> None:
        self.rows += 1
        # Byte-level tokenizers never make more tokens than UTF-8 bytes (+ a few added ones), so only rows
        # that long can be over the limit: tokenizing only those keeps a million rows fast.
        if len((example["prompt"] + example["completion"]).encode("utf-8")) + 8 > self._max_length:
            self._pending.append(example)
            if len(self._pending) == self.BATCH:
                self._count()

    def _count(self) -> None:
        part, self._pending = self._pending, []
        if not part:
            return
        ids = self._tokenizer([e["prompt"] + e["completion"] for e in part], add_special_tokens=False)["input_ids"]
        for example, tokens in zip(part, ids, strict=True):
            if len(tokens) > self._max_length:
                self.too_long += 1
                if self.longest is None or len(tokens) > self.longest[1]:
                    self.longest = (example, len(tokens))

    def warn(self, where: Any) -> None:
        self._count()
        if self.too_long:
            example, length = self.longest
            warn_user(f"{where(example)}: {self.too_long} of {self.rows} rows are longer than train.max_length "
                      f"({self._max_length} tokens) and will be cut in training, this one most ({length} tokens); "
                      "raise train.max_length or shorten them")
