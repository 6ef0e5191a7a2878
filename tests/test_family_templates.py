"""Each model family's own chat template through the template stage, the encoding and the stop tokens.

Tokenizer-only (no model): tests/family_tokenizers.py puts each family's published template and special
tokens on a copy of the SmolLM2 tokenizer.
"""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest
from family_tokenizers import FAMILY_KEYS, family_spec, tokenizer_for

from slmops.errors import ConfigError
from slmops.metrics.answers import clean_generation
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.encoding import IGNORE_INDEX, encode_example
from slmops.modeling.generation import _row_result
from slmops.modeling.generation_settings import end_of_turn_ids, stop_token_ids
from slmops.pipelines.template.chat import FIXED_DATE, TEMPLATE_OPTIONS
from slmops.pipelines.template.nodes import apply_template

pytestmark = pytest.mark.fast  # in `make test-fast`

DATA = {"source": "data/01_raw/snips-intents.jsonl", "required_fields": ["text", "label"]}
TEMPLATE = {"system": "Classify the intent of the user request. Answer with the intent only.", "prompt": "{text}",
            "completion": "{label}", "label_field": "label", "use_chat_template": True}
CHAT_FAMILIES = [k for k in FAMILY_KEYS if family_spec(k)["chat_template"]]
# (family, with a system message) for each case the family's template accepts
CASES = [(k, system) for k in FAMILY_KEYS for system in (False, True) if not system or family_spec(k)["system_role"]]


@pytest.fixture(scope="module")
def tokenizers(smollm2_tokenizer):
    return {key: tokenizer_for(key, smollm2_tokenizer) for key in FAMILY_KEYS}


@pytest.fixture(scope="module")
def rows(snips_rows):
    # A few rows, with an id and line as ingest gives them; one with surrounding spaces (Gemma/Llama trim).
    picked = [dict(r) for r in snips_rows[:4]] + [{**snips_rows[4], "text": f"  {snips_rows[4]['text']} "}]
    return [{**r, "id": f"id-{i}", "source_line": i + 1} for i, r in enumerate(picked)]


def _examples(tokenizer, rows, system: bool):
    params = {**TEMPLATE, "system": TEMPLATE["system"] if system else None}
    return list(apply_template(rows, params, DATA, ModelBundle(model=object(), tokenizer=tokenizer)))


def _fake_clock(monkeypatch, day: datetime.date) -> None:
    """transformers' `strftime_now` reads this clock."""
    from transformers.utils import chat_template_utils

    class Clock(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(day.year, day.month, day.day, 12, 0)

    monkeypatch.setattr(chat_template_utils, "datetime", Clock)


def _render(tokenizer, messages, generation_prompt=False):
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt,
                                         **TEMPLATE_OPTIONS)


@pytest.mark.parametrize(("family", "system"), CASES)
def test_prompt_is_a_prefix_and_completion_is_answer_and_end_of_turn(tokenizers, rows, monkeypatch, family, system):
    _fake_clock(monkeypatch, FIXED_DATE)  # so transformers' own rendering stamps the stage's fixed date
    tokenizer, spec = tokenizers[family], family_spec(family)
    for example, row in zip(_examples(tokenizer, rows, system), rows, strict=True):
        assert example["completion"] == spec["answer_prefix"] + row["label"] + spec["turn_suffix"]
        assert spec["end_of_turn"] in example["completion"]
        if not spec["chat_template"]:  # Phi-2: plain text, the answer ends with EOS
            assert example["prompt"] == (f"{TEMPLATE['system']}\n\n" if system else "") + f"{row['text']}\n"
            continue
        messages = ([{"role": "system", "content": TEMPLATE["system"]}] if system else []) + [
            {"role": "user", "content": row["text"]}]
        assert example["prompt"] == _render(tokenizer, messages, generation_prompt=True)  # what generation sees
        answered = messages + [{"role": "assistant", "content": row["label"]}]
        if family == "nemotron":  # its answer ends with a newline: the end of turn opens the next turn
            answered.append({"role": "user", "content": "next"})
        rendered = _render(tokenizer, answered)
        if family == "mistral" and system:
            # Mistral's template puts the system message into the *last* user message: once an answer
            # follows, the system text is gone. The answer's turn is still written the same way.
            assert TEMPLATE["system"] not in rendered
            assert example["completion"] in rendered
        else:
            assert rendered.startswith(example["prompt"] + example["completion"])


@pytest.mark.parametrize("family", ["gemma", "gemma2"])
def test_a_template_refusing_a_system_message_says_which_param_to_change(tokenizers, rows, family):
    with pytest.raises(ConfigError) as caught:
        _examples(tokenizers[family], rows, system=True)
    message = str(caught.value)
    assert "\n" not in message
    assert "template.system" in message and "refuses a system message" in message
    assert "System role not supported" in message


def test_qwen3_renders_with_thinking_off(tokenizers, rows):
    tokenizer = tokenizers["qwen3"]
    example = _examples(tokenizer, rows, system=False)[0]
    assert example["prompt"].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert example["completion"] == rows[0]["label"] + "<|im_end|>\n"
    # The trap itself: without enable_thinking=False the template's answer carries the think block.
    messages = [{"role": "user", "content": rows[0]["text"]}, {"role": "assistant", "content": rows[0]["label"]}]
    assert "<think>" in tokenizer.apply_chat_template(messages, tokenize=False)


@pytest.mark.parametrize("family", CHAT_FAMILIES)
def test_prompt_does_not_depend_on_todays_date(tokenizers, rows, monkeypatch, family):
    def on(day):
        _fake_clock(monkeypatch, day)
        return _examples(tokenizers[family], rows[:1], system=False)[0]

    one, other = on(datetime.date(2031, 3, 9)), on(datetime.date(2032, 11, 27))
    assert (one["prompt"], one["completion"]) == (other["prompt"], other["completion"])
    assert "2031" not in one["prompt"] and "2032" not in one["prompt"]


@pytest.mark.parametrize(("family", "stamp"), [("llama3", "Today Date: 26 Jul 2024\n"),
                                               ("smollm3", "Today Date: 26 July 2024\n")])
def test_the_fixed_date_is_stamped_and_the_clock_is_really_faked(tokenizers, rows, monkeypatch, family, stamp):
    _fake_clock(monkeypatch, datetime.date(2031, 3, 9))
    tokenizer = tokenizers[family]
    messages = [{"role": "user", "content": "hi"}]
    assert "2031" in tokenizer.apply_chat_template(messages, tokenize=False)  # the trap itself
    assert stamp in _examples(tokenizer, rows[:1], system=True)[0]["prompt"]
    # Why the stage does not pass its own strftime_now: transformers turns callables into inert strings.
    with pytest.raises(TypeError, match="not callable"):
        tokenizers["smollm3"].apply_chat_template(messages, tokenize=False, strftime_now=lambda f: "x")


@pytest.mark.parametrize(("family", "system"), CASES)
def test_labels_cover_exactly_the_completion_tokens(tokenizers, rows, family, system):
    tokenizer = tokenizers[family]
    for example in _examples(tokenizer, rows, system):
        prompt_ids = tokenizer(example["prompt"], add_special_tokens=True)["input_ids"]  # as generation sees it
        completion_ids = tokenizer(example["completion"], add_special_tokens=False)["input_ids"]
        encoded = encode_example(tokenizer, example["prompt"], example["completion"], max_length=512)
        assert encoded["input_ids"] == prompt_ids + completion_ids
        assert encoded["labels"] == [IGNORE_INDEX] * len(prompt_ids) + completion_ids
        assert tokenizer.decode([t for t in encoded["labels"] if t != IGNORE_INDEX]) == example["completion"]


def test_the_boundary_merge_is_real_and_the_prompt_keeps_its_own_tokens(tokenizers, rows):
    """Llama-3's prompt ends in "\\n\\n"; tokenized with the answer it splits differently than alone, and alone
    is what generation feeds the model: the labels must start right after the prompt's own tokens."""
    tokenizer = tokenizers["llama3"]
    example = _examples(tokenizer, rows[:1], system=False)[0]
    joint = tokenizer(example["prompt"] + example["completion"], add_special_tokens=True)["input_ids"]
    encoded = encode_example(tokenizer, example["prompt"], example["completion"], max_length=512)
    assert joint != encoded["input_ids"]
    first_label = next(i for i, t in enumerate(encoded["labels"]) if t != IGNORE_INDEX)
    assert tokenizer.decode(encoded["input_ids"][:first_label]) == example["prompt"]


@pytest.mark.parametrize("family", FAMILY_KEYS)
def test_generation_stops_at_the_end_of_turn_even_when_only_the_tokenizer_knows_it(tokenizers, family):
    tokenizer, spec = tokenizers[family], family_spec(family)
    end_of_turn = tokenizer.convert_tokens_to_ids(spec["end_of_turn"])
    model = SimpleNamespace(generation_config=SimpleNamespace(eos_token_id=tokenizer.eos_token_id))
    assert end_of_turn in stop_token_ids(model, tokenizer)
    if spec["chat_template"]:
        assert end_of_turn_ids(tokenizer) == [end_of_turn]


@pytest.mark.parametrize(("family", "system"), CASES)
def test_the_scored_answer_is_just_the_answer(tokenizers, rows, family, system):
    tokenizer = tokenizers[family]
    stops = set(stop_token_ids(SimpleNamespace(generation_config=None), tokenizer))
    for example, row in zip(_examples(tokenizer, rows, system), rows, strict=True):
        # The model writes the completion, then keeps going (a new turn) until the limit would cut it.
        ids = tokenizer(example["completion"] + "<|im_start|>user\nmore", add_special_tokens=False)["input_ids"]
        generation = _row_result(tokenizer, ids, stops, [], limit=64)
        assert clean_generation(generation.text) == row["label"]
        assert not generation.truncated


def test_a_leading_think_block_is_not_scored():
    assert clean_generation("<think>\nit asks for music\n</think>\n\nPlayMusic") == "PlayMusic"
    assert clean_generation("<think>\nstill thinking") == "<think>\nstill thinking"  # no answer came


def test_smollm2_default_is_unchanged(smollm2_tokenizer, rows):
    example = _examples(smollm2_tokenizer, rows[:1], system=True)[0]
    assert example["prompt"] == (f"<|im_start|>system\n{TEMPLATE['system']}<|im_end|>\n"
                                 f"<|im_start|>user\n{rows[0]['text']}<|im_end|>\n<|im_start|>assistant\n")
    assert example["completion"] == rows[0]["label"] + "<|im_end|>\n"
    assert stop_token_ids(SimpleNamespace(generation_config=None), smollm2_tokenizer) == [
        smollm2_tokenizer.eos_token_id]
