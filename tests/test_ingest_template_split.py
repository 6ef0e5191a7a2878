"""Ingest (validate + stable ids) and templating (prompt/completion pairs); the split: test_split.py."""

from __future__ import annotations

import re

import pytest

from slmops.datasets.raw_records import RawRecords
from slmops.errors import ConfigError, InputDataError
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.templating import TemplateFieldError, fill_template, template_fields
from slmops.pipelines.ingest.nodes import validate_records
from slmops.pipelines.template.nodes import apply_template

pytestmark = pytest.mark.fast  # in `make test-fast`

DATA = {"source": "data/01_raw/intents.jsonl", "required_fields": ["text", "label"]}


def _raw(rows, numbers=None, source="data/01_raw/intents.jsonl"):
    return RawRecords.of(source, rows, numbers or list(range(1, len(rows) + 1)), "line")


# --- ingest ---------------------------------------------------------------------------------------------


def test_validate_records_keeps_fields_and_adds_id_and_source_line():
    rows = [{"text": "play jazz", "label": "PlayMusic", "extra": 7}, {"text": "rain?", "label": "GetWeather"}]
    records = list(validate_records(_raw(rows, [3, 9]), DATA))
    assert [r["source_line"] for r in records] == [3, 9]
    assert {k: v for k, v in records[0].items() if k not in ("id", "source_line")} == rows[0]
    assert set(records[1]) == {"text", "label", "id", "source_line"}
    assert all(re.fullmatch(r"[0-9a-f]{16}", r["id"]) for r in records)
    assert records[0]["id"] != records[1]["id"]
    assert rows[0] == {"text": "play jazz", "label": "PlayMusic", "extra": 7}  # input rows not mutated


def test_id_depends_on_content_not_key_order_or_position():
    first = list(validate_records(_raw([{"text": "a", "label": "X"}, {"text": "b", "label": "Y"}]), DATA))
    # Same rows, swapped position, keys in another order, other line numbers.
    second = list(validate_records(_raw([{"label": "Y", "text": "b"}, {"label": "X", "text": "a"}], [10, 20]), DATA))
    assert first[0]["id"] == second[1]["id"]
    assert first[1]["id"] == second[0]["id"]


@pytest.mark.parametrize("changed", [{"text": "a ", "label": "X"}, {"text": "a", "label": "x"},
                                     {"text": "a", "label": "X", "more": 1}, {"text": "a", "label": "X", "id": 5}])
def test_different_content_gives_a_different_id(changed):
    base, other = list(validate_records(_raw([{"text": "a", "label": "X"}, changed]), DATA))
    assert base["id"] != other["id"]


def test_users_own_id_moves_to_source_id():
    records = list(validate_records(_raw([{"id": "row-17", "text": "a", "label": "X"}]), DATA))
    assert records[0]["source_id"] == "row-17"
    assert records[0]["id"] != "row-17" and re.fullmatch(r"[0-9a-f]{16}", records[0]["id"])


def test_empty_dataset_is_an_input_error():
    with pytest.raises(InputDataError, match="the dataset is empty") as caught:
        list(validate_records(_raw([]), DATA))
    assert caught.value.source == "data/01_raw/intents.jsonl"


def test_missing_required_field_names_file_line_and_field():
    rows = [{"text": "a", "label": "X"}, {"text": "b"}]
    with pytest.raises(InputDataError) as caught:
        list(validate_records(_raw(rows, [1, 5]), DATA))
    error = caught.value
    assert (error.source, error.line, error.field) == ("data/01_raw/intents.jsonl", 5, "label")
    assert str(error).startswith("data/01_raw/intents.jsonl, line 5, field 'label': missing required field")
    assert "row has: text" in str(error)


@pytest.mark.parametrize("blank", ["", "   \t", None, float("nan")])
def test_empty_required_field_is_an_input_error(blank):
    with pytest.raises(InputDataError, match="required field is empty") as caught:
        list(validate_records(_raw([{"text": "a", "label": "X"}, {"text": blank, "label": "Y"}], [2, 4]), DATA))
    assert (caught.value.line, caught.value.field) == (4, "text")


def test_no_required_fields_accepts_any_row():
    records = list(validate_records(_raw([{"anything": ""}]), {"source": "x.jsonl"}))
    assert records[0]["anything"] == "" and records[0]["source_line"] == 1


def test_bad_data_params_are_a_config_error():
    with pytest.raises(ConfigError, match="data.requried_fields: unknown key"):
        validate_records(_raw([{"text": "a"}]), {"source": "x", "requried_fields": ["text"]})  # before any row


# --- templating -----------------------------------------------------------------------------------------


def test_fill_template_substitutes_fields():
    record = {"text": "play jazz", "n": 3, "label": "PlayMusic"}
    assert fill_template("Q: {text} ({n}) -> {label}", record) == "Q: play jazz (3) -> PlayMusic"


def test_double_braces_are_literal_braces():
    assert fill_template('{{"intent": "{label}"}}', {"label": "X"}) == '{"intent": "X"}'
    assert template_fields('{{"intent": "{label}"}} {{not_a_field}}') == ["label"]


def test_values_are_not_reinterpreted_as_templates():
    assert fill_template("{text}", {"text": "{label} {{x}}", "label": "X"}) == "{label} {{x}}"


@pytest.mark.parametrize(("template", "problem"), [
    ("{text.__class__}", "reads an attribute"), ("{text[0]}", "indexes into a value"), ("{0}", "positional"),
    ("{}", "positional"), ("{text!r}", "conversion or format spec"), ("{text:>10}", "conversion or format spec"),
    ("{ text }", "is not a plain field name"), ("{text", "without its pair")])
def test_template_fields_rejects_anything_but_bare_names(template, problem):
    with pytest.raises(ValueError, match=problem):
        template_fields(template)


def test_template_fields_lists_names_in_order():
    assert template_fields("{system_} {text} {label2} {text}") == ["system_", "text", "label2", "text"]


@pytest.mark.parametrize("record", [{"text": "a"}, {"text": "a", "label": None}])
def test_missing_field_raises_template_field_error(record):
    with pytest.raises(TemplateFieldError) as caught:
        fill_template("{text} {label}", record)
    assert caught.value.field == "label"
    assert isinstance(caught.value, KeyError)


TEMPLATE = {"system": "Classify the request.", "prompt": "Request: {text}", "completion": "{label}",
            "label_field": "label", "use_chat_template": True}


def _records():
    return [{"text": "play some jazz", "label": "PlayMusic", "id": "id-1", "source_line": 1},
            {"text": "will it rain", "label": "GetWeather", "id": "id-2", "source_line": 3}]


@pytest.fixture
def bundle(smollm2_tokenizer):
    return ModelBundle(model=object(), tokenizer=smollm2_tokenizer)


def test_apply_template_uses_the_chat_template(bundle):
    examples = list(apply_template(_records(), TEMPLATE, DATA, bundle))
    assert [e["id"] for e in examples] == ["id-1", "id-2"]
    first = examples[0]
    assert first["prompt"] == ("<|im_start|>system\nClassify the request.<|im_end|>\n"
                               "<|im_start|>user\nRequest: play some jazz<|im_end|>\n<|im_start|>assistant\n")
    assert first["prompt"].endswith("<|im_start|>assistant\n")
    assert first["completion"].startswith("PlayMusic")
    assert "<|im_end|>" in first["completion"]
    assert (first["input"], first["target"], first["label"], first["source_line"]) == (
        "Request: play some jazz", "PlayMusic", "PlayMusic", 1)
    assert examples[1]["completion"].startswith("GetWeather<|im_end|>")


def test_apply_template_without_system_still_ends_at_the_assistant_turn(bundle):
    params = {**TEMPLATE, "system": None}
    example = list(apply_template(_records()[:1], params, DATA, bundle))[0]
    assert example["prompt"].endswith("<|im_start|>user\nRequest: play some jazz<|im_end|>\n<|im_start|>assistant\n")
    assert "Classify the request." not in example["prompt"]


def test_apply_template_plain_text_form(bundle):
    params = {**TEMPLATE, "use_chat_template": False}
    example = list(apply_template(_records()[:1], params, DATA, bundle))[0]
    assert example["prompt"] == "Classify the request.\n\nRequest: play some jazz\n"
    assert "<|im_start|>" not in example["prompt"]
    assert bundle.tokenizer.eos_token == "<|im_end|>"  # SmolLM2's: the completion below ends with it
    assert example["completion"] == "PlayMusic<|im_end|>"


def test_free_text_task_has_no_label(bundle):
    params = {**TEMPLATE, "label_field": None, "completion": "Intent: {label}"}
    example = list(apply_template(_records()[:1], params, DATA, bundle))[0]
    assert "label" not in example
    assert example["target"] == "Intent: PlayMusic"


def test_record_missing_a_template_field_names_source_line_and_field(bundle):
    records = _records()
    del records[1]["text"]
    with pytest.raises(InputDataError) as caught:
        list(apply_template(records, TEMPLATE, DATA, bundle))
    error = caught.value
    assert (error.source, error.line, error.field) == (DATA["source"], 3, "text")
    assert str(error) == f"{DATA['source']}, line 3, field 'text': missing a field the template uses"


def test_record_missing_the_label_field_is_named(bundle):
    params = {**TEMPLATE, "completion": "{text}"}  # the template itself does not use the label
    records = _records()
    del records[0]["label"]
    with pytest.raises(InputDataError, match="missing the label field") as caught:
        list(apply_template(records, params, DATA, bundle))
    assert (caught.value.line, caught.value.field) == (1, "label")


@pytest.mark.parametrize("key", ["system", "prompt", "completion"])
def test_bad_placeholder_in_params_is_a_config_error(bundle, key):
    params = {**TEMPLATE, key: "{text.__class__}"}
    with pytest.raises(ConfigError, match=f"template.{key}: .*reads an attribute"):
        apply_template(_records(), params, DATA, bundle)  # at the call, before any row is read
