"""Turn records into prompt/completion pairs, through the model's own chat template when it has one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from slmops.config import DataParams, TemplateParams, parse
from slmops.errors import ConfigError, InputDataError
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.templating import TemplateFieldError, as_text, fill_template, template_fields
from slmops.notices import warn_user
from slmops.pipelines.template.chat import ChatRenderer, render_chat, render_text
from slmops.pipelines.template.checks import (
    ConflictingLabels,
    TruncatedRows,
    control_tokens,
    defuse,
    warn_class_balance,
)

__all__ = ["ChatRenderer", "apply_template", "render_chat", "render_text"]  # render_* live in chat.py


def _check_template_syntax(params: TemplateParams) -> None:
    for key in ("system", "prompt", "completion"):
        text = getattr(params, key)
        if text is None:
            continue
        try:
            template_fields(text)
        except ValueError as error:
            raise ConfigError(f"params.yaml: template.{key}: {error}") from None


def apply_template(records: Iterable[dict[str, Any]], template_params: dict[str, Any],
                   data_params: dict[str, Any], base_model: ModelBundle,
                   max_length: int | None = None) -> Iterator[dict[str, Any]]:
    """Prompt/completion pairs, one per record, streamed; warns (naming file and line) about what would
    train badly once every row has gone by.

    Params and templates are checked now; rows as the examples are consumed (saved), one at a time.
    ``max_length`` is train.max_length: rows longer than that are counted, since training cuts them.
    """
    params: TemplateParams = parse(TemplateParams, template_params, "template")
    data = parse(DataParams, data_params, "data")
    _check_template_syntax(params)
    return _examples(records, params, data, base_model.tokenizer, max_length)


def _examples(records: Iterable[dict[str, Any]], params: TemplateParams, data: DataParams, tokenizer: Any,
              max_length: int | None) -> Iterator[dict[str, Any]]:
    use_chat = params.use_chat_template and bool(getattr(tokenizer, "chat_template", None))
    render = ChatRenderer(tokenizer, bool(params.system)) if use_chat else render_text
    tokens = control_tokens(tokenizer)
    used = params.fields_used()

    def where(example: dict[str, Any], short: bool = False) -> str:
        line = f"line {example['source_line']}"
        return line if short else f"{data.source_of(example.get('source_split'))}, {line}"

    defused, first_defused = 0, None
    conflicts, label_counts = ConflictingLabels(), Counter()
    truncated = TruncatedRows(tokenizer, max_length) if max_length is not None else None
    for record in records:
        line = record.get("source_line")
        values = dict(record)
        for field in used:
            if isinstance(values.get(field), str):
                values[field], found = defuse(values[field], tokens)
                if found:
                    defused += 1
                    first_defused = first_defused or (record, field, found)
        try:
            system = fill_template(params.system, values) if params.system else None
            user = fill_template(params.prompt, values)
            answer = fill_template(params.completion, values)
        except TemplateFieldError as error:
            raise InputDataError(data.source_of(record.get("source_split")), "missing a field the template uses",
                                 line=line, field=error.field) from None
        if params.label_field is not None and params.label_field not in record:
            raise InputDataError(data.source_of(record.get("source_split")),
                                 "missing the label field (template.label_field)", line=line, field=params.label_field)
        prompt, completion = render(tokenizer, system, user, answer)
        example = {"id": record["id"], "source_line": line, "input": user, "prompt": prompt,
                   "completion": completion, "target": answer}
        if "source_split" in record:
            example["source_split"] = record["source_split"]
        if params.label_field is not None:
            example["label"] = as_text(record[params.label_field])
            conflicts.add(example)
            if "source_split" not in example:
                label_counts[example["label"]] += 1
        if truncated is not None:
            truncated.add(example)
        yield example
    if first_defused:
        record, field, token = first_defused
        warn_user(f"{where(record)}, field '{field}': holds the control token '{token}' ({defused} value(s) "
                  "in all); kept as plain text, with a zero-width space after its first character, so it never "
                  "acts as a control token; remove it from the data if it is not meant as text")
    if params.label_field is not None:
        conflicts.warn(where)
        warn_class_balance(label_counts, data.source, params.label_field)
    if truncated is not None:
        truncated.warn(where)
