"""From a raw generation to the answer that is scored.

The whole answer is scored: it ends at the end-of-turn token (generation stops there) or at the
first stop string. Only classification keeps just the first non-empty line, since a label is one
line and a model often explains itself after it. ``answer_pattern`` (a regex) pulls a final answer
out of a worked solution, e.g. ``#### (\\S+)`` for grade-school math, from predictions and
references alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence


def cut_at_stop_strings(text: str, stop_strings: Sequence[str]) -> str:
    """The text before the earliest stop string (all of it when none occurs)."""
    cut = len(text)
    for stop in stop_strings:
        if stop:
            found = text.find(stop)
            if 0 <= found < cut:
                cut = found
    return text[:cut]


def first_line(text: str) -> str:
    """First non-empty line, trimmed of surrounding whitespace, quotes and final punctuation (in any order)."""
    for line in text.strip().splitlines():
        line = line.strip()
        if line:
            while True:
                trimmed = line.strip("\"'`").rstrip(".!").strip()
                if trimmed == line:
                    return line
                line = trimmed
    return ""


def compile_answer_pattern(pattern: str | None) -> re.Pattern[str] | None:
    if not pattern:
        return None
    return re.compile(pattern, re.MULTILINE)


def extract_answer(text: str, pattern: re.Pattern[str] | None) -> str | None:
    """The last match of ``pattern`` (its first group when it has one), or None when it does not match.

    The last match, because a worked solution may state intermediate results in the same form.
    """
    if pattern is None:
        return text.strip()
    matches = list(pattern.finditer(text))
    if not matches:
        return None
    match = matches[-1]
    found = match.group(1) if pattern.groups else match.group(0)
    return (found or "").strip()


# A closed reasoning block at the start of a generation (Qwen3, SmolLM3: <think> is an ordinary token,
# so decoding keeps it). The template stage turns thinking off, but a model may still open one.
_THINK_BLOCK = re.compile(r"\A\s*<think>.*?</think>", re.DOTALL)


def drop_think_block(text: str) -> str:
    """The text after a leading <think>…</think> block; an unclosed one is kept (the answer never came)."""
    return _THINK_BLOCK.sub("", text, count=1)


def clean_generation(text: str, stop_strings: Sequence[str] = ()) -> str:
    """The whole answer: cut at the first stop string, a leading think block and surrounding whitespace removed."""
    return drop_think_block(cut_at_stop_strings(text, stop_strings)).strip()
