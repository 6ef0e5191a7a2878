"""Prompt and completion from the base model's own chat template, the same text every day.

The prompt is what generation feeds the model; the completion is what the template writes after
it for the answer: the answer and the turn's end (the loss is computed on the completion only).
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

from slmops.errors import ConfigError
from slmops.pipelines.template.checks import control_tokens

# Llama's own default for `date_string`. Llama-3.x, Granite 3.x and SmolLM3 write today's date
# into the system block (through `strftime_now`); a prompt that changes every day would make the
# DVC-cached, lineage-hashed examples differ between two runs of the same inputs.
FIXED_DATE = datetime.date(2024, 7, 26)


def _fixed_strftime(format_: str) -> str:
    return FIXED_DATE.strftime(format_)


# Llama-3.x reads `date_string` before its clock. Thinking off: Qwen3/SmolLM3 then end the prompt
# with an empty think block, so the completion is the answer alone (with thinking on, their
# assistant turn would carry a think block too).
TEMPLATE_OPTIONS: dict[str, Any] = {"date_string": FIXED_DATE.strftime("%d %b %Y"), "enable_thinking": False}


@functools.lru_cache(maxsize=8)
def _with_fixed_clock(chat_template: str) -> Any:
    """The template compiled in transformers' sandbox with `strftime_now` giving FIXED_DATE.

    transformers turns callables passed to apply_chat_template into inert strings, so a `strftime_now`
    argument cannot replace its clock; a template-level global can (it shadows the environment's).
    """
    from transformers.utils.chat_template_utils import _compile_jinja_template

    environment = _compile_jinja_template(chat_template).environment
    return environment.from_string(chat_template, globals={"strftime_now": _fixed_strftime})


def chat_text(tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
    """The chat template's text for ``messages``, with the fixed date and thinking off; a template's
    refusal becomes one line naming the template and the params to change."""
    from jinja2 import TemplateError

    template = tokenizer.chat_template
    try:
        if "strftime_now" not in template:
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                                 **TEMPLATE_OPTIONS)
        # Granite 3.2+, SmolLM3 call strftime_now with no way to pass a date: render as apply_chat_template
        # does (special tokens and options as variables), with the fixed clock.
        return _with_fixed_clock(template).render(messages=messages, tools=None, documents=None,
                                                  add_generation_prompt=add_generation_prompt,
                                                  **{**tokenizer.special_tokens_map, **TEMPLATE_OPTIONS})
    except TemplateError as error:
        where = f"the chat template of '{tokenizer.name_or_path}' (tokenizer_config.json, chat_template)"
        if messages[0]["role"] == "system":
            raise ConfigError(f"params.yaml: template.system: {where} refuses a system message ({error}); set "
                              "template.system: null and put the instruction into template.prompt") from None
        raise ConfigError(f"{where} fails on a user/assistant exchange ({error}); fix that template, or set "
                          "template.use_chat_template: false in params.yaml to train on plain text") from None


def render_chat(tokenizer: Any, system: str | None, user: str, answer: str) -> tuple[str, str]:
    """Prompt up to the assistant turn, and the completion that follows it (answer + end-of-turn)."""
    head = [{"role": "system", "content": system}] if system else []
    turn = [{"role": "user", "content": user}]
    reply = {"role": "assistant", "content": answer}
    prompt = chat_text(tokenizer, head + turn, add_generation_prompt=True)
    full = chat_text(tokenizer, head + turn + [reply], add_generation_prompt=False)
    if full.startswith(prompt):
        completion = full[len(prompt):]
    else:
        completion = _moved_system_completion(tokenizer, bool(head), turn, reply, full)
    return prompt, _with_end_of_turn(tokenizer, head + turn + [reply], full, completion, answer)


def _moved_system_completion(tokenizer: Any, has_system: bool, turn: list[dict[str, str]], reply: dict[str, str],
                             full: str) -> str:
    """The assistant turn of a template that moves the system message (Mistral puts it into the *last* user
    message, so it is gone once an answer follows). The turn is taken from the same exchange without the
    system message, and accepted only when the template writes it the same way with one."""
    if has_system:
        prompt = chat_text(tokenizer, turn, add_generation_prompt=True)
        alone = chat_text(tokenizer, turn + [reply], add_generation_prompt=False)
        if alone.startswith(prompt) and full.endswith(alone[len(prompt):]):
            return alone[len(prompt):]
    raise ConfigError(f"the chat template of '{tokenizer.name_or_path}' (tokenizer_config.json, chat_template) "
                      "writes an assistant answer that does not follow its own generation prompt, so what the "
                      "model learns is not what it sees when it answers; fix the template, or set "
                      "template.use_chat_template: false in params.yaml")


def _with_end_of_turn(tokenizer: Any, conversation: list[dict[str, str]], full: str, completion: str,
                      answer: str) -> str:
    """``completion``, ending in a control token. A template whose assistant turn ends without one (Nemotron
    ends it with a newline; the next turn opens with <extra_id_1>) gets the text up to the next turn's first
    control token, as the template writes it: otherwise the model never learns to stop."""
    tokens = control_tokens(tokenizer)
    stripped = answer.strip()
    tail = completion[completion.rfind(stripped) + len(stripped):] if stripped else completion
    if any(token in tail for token in tokens):
        return completion
    following = chat_text(tokenizer, conversation + [{"role": "user", "content": "."}], add_generation_prompt=False)
    opener = following[len(full):] if following.startswith(full) else ""
    ends = [opener.find(token) + len(token) for token in tokens if token in opener]
    if not ends:
        raise ConfigError(f"the chat template of '{tokenizer.name_or_path}' (tokenizer_config.json, chat_template) "
                          "ends an assistant turn without any special token, so generation could never stop "
                          "there; give the template an end-of-turn token, or set template.use_chat_template: "
                          "false in params.yaml")
    return completion + opener[:min(ends)]


# Stand-ins for the three texts, with the whitespace and newlines a template that trims or rewrites
# content would change: the render-once shortcut is only taken when they come out untouched.
_SLOTS = ("\n \x01slmops-system\x01 \n", "\n \x01slmops-user\x01 \n", "\n \x01slmops-answer\x01 \n")


class ChatRenderer:
    """render_chat for many rows: the chat template is rendered once with stand-ins and then filled by
    plain substitution, when that gives exactly what rendering each row gives (checked on stand-ins and
    on the first rows); otherwise every row is rendered by the template (the 1 ms-a-row path)."""

    CHECKED_ROWS = 32

    def __init__(self, tokenizer: Any, with_system: bool):
        self._tokenizer, self._checked = tokenizer, 0
        system, user, answer = _SLOTS
        prompt, completion = render_chat(tokenizer, system if with_system else None, user, answer)
        self._skeleton = None
        slots = [slot for slot in (_SLOTS if with_system else _SLOTS[1:])]
        if all((prompt + completion).count(slot) == 1 for slot in slots) and answer in completion:
            self._skeleton = (prompt, completion)

    def __call__(self, tokenizer: Any, system: str | None, user: str, answer: str) -> tuple[str, str]:
        if self._skeleton is None or any(slot_mark in text for text in (system or "", user, answer)
                                         for slot_mark in ("\x01slmops-",)):
            return render_chat(tokenizer, system, user, answer)
        prompt, completion = (part.replace(_SLOTS[0], system or "").replace(_SLOTS[1], user).replace(_SLOTS[2], answer)
                              for part in self._skeleton)
        if self._checked < self.CHECKED_ROWS:
            self._checked += 1
            if (prompt, completion) != render_chat(tokenizer, system, user, answer):
                self._skeleton = None
                return render_chat(tokenizer, system, user, answer)
        return prompt, completion


def render_text(tokenizer: Any, system: str | None, user: str, answer: str) -> tuple[str, str]:
    """Plain text for a model without a chat template (a base model such as Phi-2): the answer ends with EOS."""
    prompt = f"{system}\n\n{user}\n" if system else f"{user}\n"
    return prompt, answer + (tokenizer.eos_token or "")
