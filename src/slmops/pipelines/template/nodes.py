"""Turn records into prompt/completion pairs, through the model's own chat template when it has one."""

from __future__ import annotations

from typing import Any

from slmops.config import DataParams, TemplateParams, parse
from slmops.errors import ConfigError, InputDataError
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.templating import TemplateFieldError, fill_template, template_fields


def _check_template_syntax(params: TemplateParams) -> None:
    for key in ("system", "prompt", "completion"):
        text = getattr(params, key)
        if text is None:
            continue
        try:
            template_fields(text)
        except ValueError as error:
            raise ConfigError(f"params.yaml: template.{key}: {error}") from None


def render_chat(tokenizer: Any, system: str | None, user: str, answer: str) -> tuple[str, str]:
    """Prompt up to the assistant turn, and the completion that follows it (answer + end-of-turn)."""
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": answer}], tokenize=False)
    if full.startswith(prompt):
        return prompt, full[len(prompt):]
    # Templates that rewrite earlier turns once an answer exists: fall back to answer + EOS.
    return prompt, answer + (tokenizer.eos_token or "")


def render_text(tokenizer: Any, system: str | None, user: str, answer: str) -> tuple[str, str]:
    prompt = f"{system}\n\n{user}\n" if system else f"{user}\n"
    return prompt, answer + (tokenizer.eos_token or "")


def apply_template(records: list[dict[str, Any]], template_params: dict[str, Any],
                   data_params: dict[str, Any], base_model: ModelBundle) -> list[dict[str, Any]]:
    params: TemplateParams = parse(TemplateParams, template_params, "template")
    source = parse(DataParams, data_params, "data").source
    _check_template_syntax(params)
    tokenizer = base_model.tokenizer
    use_chat = params.use_chat_template and bool(getattr(tokenizer, "chat_template", None))
    render = render_chat if use_chat else render_text
    examples = []
    for record in records:
        line = record.get("source_line")
        try:
            system = fill_template(params.system, record) if params.system else None
            user = fill_template(params.prompt, record)
            answer = fill_template(params.completion, record)
        except TemplateFieldError as error:
            raise InputDataError(source, "missing a field the template uses", line=line, field=error.field) from None
        if params.label_field is not None and params.label_field not in record:
            raise InputDataError(source, "missing the label field (template.label_field)", line=line,
                                 field=params.label_field)
        prompt, completion = render(tokenizer, system, user, answer)
        example = {"id": record["id"], "source_line": line, "input": user, "prompt": prompt,
                   "completion": completion, "target": answer}
        if params.label_field is not None:
            example["label"] = str(record[params.label_field])
        examples.append(example)
    return examples
