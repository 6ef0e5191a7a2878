"""Which rows are scored, against what, and as which kind of task: shared by every evaluation stage."""

from __future__ import annotations

from typing import Any

from slmops.errors import ConfigError
from slmops.metrics.scoring import TaskSpec


def evaluation_rows(examples: list[dict[str, Any]], max_rows: int | None) -> list[dict[str, Any]]:
    """The first ``max_rows`` validation rows (all when None): every engine scores the same rows."""
    return examples[:max_rows] if max_rows else examples


def references_of(examples: list[dict[str, Any]]) -> list[str]:
    """The label when the row has one, otherwise the templated completion text (without end-of-turn)."""
    return [e.get("label", e["target"]) for e in examples]


def task_kind(examples: list[dict[str, Any]], requested: str = "auto") -> str:
    """``auto``: classification when every row has a label (template.label_field set), generation otherwise."""
    labelled = bool(examples) and all("label" in e for e in examples)
    if requested == "auto":
        return "classification" if labelled else "generation"
    if requested == "classification" and not labelled:
        raise ConfigError("params.yaml: evaluate.task: classification needs labelled rows; set "
                          "template.label_field, or use evaluate.task: generation")
    return requested


def task_spec(examples: list[dict[str, Any]], task: str = "auto", answer_pattern: str | None = None,
              stop_strings: tuple[str, ...] | list[str] = ()) -> TaskSpec:
    kind = task_kind(examples, task)
    labels = tuple(sorted({str(e["label"]) for e in examples})) if kind == "classification" else ()
    return TaskSpec(kind=kind, labels=labels, answer_pattern=answer_pattern, stop_strings=tuple(stop_strings))
