"""The start-up check of the base model (slmops.modeling.preflight): what it refuses, with which line, and that it
stays cheap (no transformers, no torch). The same refusals through `dvc repro` live in tests/bad_inputs/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from slmops.config import validate_params
from slmops.errors import ConfigError, InputDataError
from slmops.modeling import families
from slmops.modeling.gguf_header import gguf_header_values
from slmops.modeling.preflight import GGUF_ARCHITECTURES, check_base_model, gguf_facts

pytestmark = pytest.mark.fast  # in `make test-fast`

CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
# Gemma's own template, as it refuses a system message.
GEMMA = ("{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
         "{% endif %}{% for message in messages %}{% set role = 'model' if message['role'] == 'assistant' else "
         "message['role'] %}<start_of_turn>{{ role }}\n{{ message['content'] | trim }}<end_of_turn>\n{% endfor %}"
         "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")
# What else templates use: the date (Llama 3), tojson, loop controls, the generation block (assistant masks).
EXTRAS = ("{% set ns = namespace(n=0) %}{% for message in messages %}{% if loop.index > 9 %}{% break %}{% endif %}"
          "{% set ns.n = ns.n + 1 %}{{ message | tojson }}{% if message['role'] == 'assistant' %}{% generation %}"
          "{{ message['content'] }}{% endgeneration %}{% endif %}{% endfor %}{{ ns.n }}{{ strftime_now('%Y') }}"
          "{{ eos_token }}")


def _params(name: str, **changes) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["base_model"]["name_or_path"] = name
    for dotted, value in changes.items():
        section, key = dotted.split(".")
        params[section][key] = value
    return params


def _check(name: str, **changes) -> None:
    check_base_model(validate_params(_params(name, **changes)))


def _refusal(folder: Path, **changes) -> str:
    """The one line the check stops with for the model in ``folder`` and these params changes."""
    with pytest.raises(ConfigError) as raised:
        _check(str(folder), **changes)
    return str(raised.value)


@pytest.fixture
def folder(tmp_path) -> Path:
    """A small Llama model folder as save_pretrained lays one out (weights all zero: only shapes are read)."""
    import numpy as np
    from safetensors.numpy import save_file

    path = tmp_path / "model"
    path.mkdir()
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32, "hidden_size": 16,
              "num_attention_heads": 4, "num_key_value_heads": 2}
    (path / "config.json").write_text(json.dumps(config))
    save_file({"model.embed_tokens.weight": np.zeros((32, 16), np.float32), "model.norm.weight": np.ones(16, np.float32)},
              path / "model.safetensors")
    (path / "tokenizer.json").write_text("{}")
    (path / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<s>", "eos_token": {"content": "</s>"}}))
    (path / "chat_template.jinja").write_text(CHATML)
    return path


def _edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))


def test_the_default_embedded_model_and_a_good_folder_pass(folder):
    _check("embedded:SmolLM2-135M-Instruct")
    _check(str(folder))
    _check(str(folder), **{"template.use_chat_template": False})


def test_the_check_imports_neither_transformers_nor_torch(folder):
    # What keeps it cheap at every stage start: ingest, split and report never import them otherwise (~1 s and ~3 s).
    code = ("import sys, yaml; from slmops.config import validate_params; "
            "from slmops.modeling.preflight import check_base_model; "
            f"p = yaml.safe_load(open('params.yaml')); check_base_model(validate_params(p)); "
            f"p['base_model']['name_or_path'] = {str(folder)!r}; check_base_model(validate_params(p)); "
            "print(sorted(m for m in ('transformers', 'torch', 'gguf') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stderr


def _truncate(folder: Path) -> None:
    os.truncate(folder / "model.safetensors", 600)


def _pad(folder: Path) -> None:
    with open(folder / "model.safetensors", "ab") as handle:
        handle.write(b"\0" * 4)


@pytest.mark.parametrize(("edit", "file", "message"), [
    (_truncate, "model.safetensors", "truncated: 600 bytes where its header describes {size}; copy or download the "
                                     "file again"),
    (_pad, "model.safetensors", "damaged: {size} bytes where its header describes {described}; copy or download "
                                "the file again"),
    (lambda f: (f / "model.safetensors").write_bytes(b"\x04\0\0\0\0\0\0\0{{{{"), "model.safetensors",
     "not a safetensors file (its header is unreadable); copy or download the file again"),
    (lambda f: (f / "tokenizer.json").unlink(), "tokenizer.json",
     "missing, and no other tokenizer file (tokenizer.model, vocab.json) is in the folder; copy the tokenizer files "
     "of the model these weights came from into it (tokenizer.save_pretrained(folder) writes them)"),
    (lambda f: _edit_config(f, hidden_size=24), "config.json",
     "hidden_size 24 disagrees with model.safetensors (model.embed_tokens.weight is 32 x 16); restore the "
     "config.json that came with these weights"),
    (lambda f: _edit_config(f, num_attention_heads=3), "config.json",
     "hidden_size 16 is not a multiple of num_attention_heads 3; restore the config.json that came with these weights"),
    (lambda f: _edit_config(f, num_key_value_heads=3), "config.json",
     "num_attention_heads 4 is not a multiple of num_key_value_heads 3; restore the config.json that came with "
     "these weights"),
    (lambda f: (f / "config.json").write_text('{"architectures": ['), "config.json",
     "not valid JSON (Expecting value at line 1); restore the file the model came with"),
    (lambda f: (f / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "a": "model.safetensors", "b": "model-00002-of-00002.safetensors"}})), "model-00002-of-00002.safetensors",
     "missing (model.safetensors.index.json names 2 weight files, 1 are absent); copy or download the missing files"),
], ids=["truncated", "extra_bytes", "not_safetensors", "no_tokenizer", "hidden_size", "heads", "kv_heads",
        "config_not_json", "missing_shard"])
def test_a_broken_folder_is_named_with_its_file(folder, edit, file, message):
    size = (folder / "model.safetensors").stat().st_size
    edit(folder)
    message = message.format(size=size, described=size)  # header's size; the padded file has 4 bytes more
    if edit is _pad:
        message = message.replace(f"damaged: {size}", f"damaged: {size + 4}")
    with pytest.raises(InputDataError) as raised:
        _check(str(folder))
    assert str(raised.value) == f"{folder / file}: {message}"


def test_an_architecture_the_builder_lacks_is_refused(folder):
    _edit_config(folder, architectures=["GPT2LMHeadModel"])
    supported = ", ".join(sorted(f.name for f in families.FAMILIES.values() if f.refused is None))
    assert _refusal(folder) == (
        f"params.yaml: base_model.name_or_path: '{folder}': architecture GPT2LMHeadModel is not one slmops exports "
        f"with the onnxruntime-genai builder (supported: {supported}); use a base model of a supported family")


@pytest.mark.parametrize(("method", "changes", "key", "fix"), [
    ("dora", {"train.method": "dora"}, "train.method", "choose another train.method than 'dora'"),
    ("quantization_aware", {}, "train.quantization_aware", "set train.quantization_aware: null"),
    ("adapters:separate", {"export.adapters": "separate", "export.targets": ["cpu-int4"],
                           "train.quantization_aware": {"block_size": 64, "target": "base"}},
     "export.adapters", "set export.adapters: merged"),
])
def test_a_method_the_family_cannot_take_is_refused(folder, monkeypatch, method, changes, key, fix):
    llama = families.FAMILIES["LlamaForCausalLM"]
    refused = families.Family(llama.architecture, llama.name, refused_methods={method: "its projections are fused"})
    monkeypatch.setitem(families.FAMILIES, "LlamaForCausalLM", refused)
    assert _refusal(folder, **changes) == (
        f"params.yaml: {key}: not with '{folder}' (LlamaForCausalLM): its projections are fused; {fix}")


def test_a_target_the_family_cannot_take_is_refused(folder, monkeypatch):
    def target_refusal(architecture: str, target: str) -> str | None:
        return "the runtime lacks its attention kernel" if target == "cpu-int4" else None

    monkeypatch.setattr(families, "target_refusal", target_refusal, raising=False)
    assert _refusal(folder, **{"export.targets": ["cpu-fp32", "cpu-int4"]}) == (
        f"params.yaml: export.targets: cpu-int4 with '{folder}' (LlamaForCausalLM): the runtime lacks its attention "
        "kernel; remove cpu-int4 from export.targets")


def test_a_chat_template_that_refuses_the_system_role_is_refused(folder):
    (folder / "chat_template.jinja").write_text(GEMMA)
    assert _refusal(folder) == (
        f"params.yaml: template.system: the chat template of '{folder}' refuses a system message ('System role not "
        "supported'); set template.system: null and put the instruction into template.prompt, or set "
        "template.use_chat_template: false")
    _check(str(folder), **{"template.system": None})  # what the message says to change


def test_no_chat_template_is_refused_only_when_one_is_asked_for(folder):
    (folder / "chat_template.jinja").unlink()
    assert _refusal(folder) == (
        f"params.yaml: template.use_chat_template: '{folder}' has no chat template (no chat_template.jinja, none in "
        "tokenizer_config.json); set template.use_chat_template: false to train on plain text, or use a model that "
        "has one")
    _check(str(folder), **{"template.use_chat_template": False})


def test_the_template_in_tokenizer_config_counts_and_a_jinja_file_wins(folder):
    (folder / "chat_template.jinja").unlink()
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": [{"name": "default", "template": GEMMA}]}))
    with pytest.raises(ConfigError, match="refuses a system message"):
        _check(str(folder))
    (folder / "chat_template.jinja").write_text(CHATML)
    _check(str(folder))


def test_a_template_that_does_not_parse_is_refused(folder):
    (folder / "chat_template.jinja").write_text("{% for message in messages %}")
    with pytest.raises(ConfigError, match=r"^params.yaml: template.use_chat_template: the chat template of '.*' "
                                          r"cannot render a user turn and an answer \(.*'endfor'.*\); set "
                                          r"template.use_chat_template: false$"):
        _check(str(folder))


FAMILY_TEMPLATES = sorted((ROOT / "tests/chat_templates").glob("*.jinja"))  # each family's published template


def _template(name: str) -> str:
    return {"chatml": CHATML, "gemma-like": GEMMA, "extras": EXTRAS}.get(name) or \
        (ROOT / f"tests/chat_templates/{name}.jinja").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["chatml", "gemma-like", "extras", *(p.stem for p in FAMILY_TEMPLATES)])
@pytest.mark.parametrize("system", [False, True])
def test_the_probe_renders_as_transformers_does(name, system):
    from transformers.utils.chat_template_utils import render_jinja_template

    from slmops.modeling.preflight import PROBE_OPTIONS, PROBE_SYSTEM, PROBE_TURNS, _jinja_environment

    template = _template(name)
    messages = [PROBE_SYSTEM] * system + PROBE_TURNS
    variables = {"bos_token": "<s>", "eos_token": "</s>", **PROBE_OPTIONS}
    outcomes = []
    for render in (lambda: render_jinja_template([messages], chat_template=template, **variables)[0][0],
                   lambda: _jinja_environment().from_string(template).render(messages=messages, tools=None,
                                                                             documents=None, **variables)):
        try:
            outcomes.append(render())
        except Exception as error:  # noqa: BLE001 - both must fail alike
            outcomes.append(("raised", str(error)))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("template", FAMILY_TEMPLATES, ids=lambda p: p.stem)
def test_each_family_template_is_refused_a_system_message_exactly_when_it_has_no_system_role(folder, template):
    (folder / "chat_template.jinja").write_text(template.read_text(encoding="utf-8"))
    has_system_role = json.loads(template.with_suffix(".json").read_text())["system_role"]
    refused = None
    try:
        _check(str(folder))
    except ConfigError as error:
        refused = str(error)
    assert (refused is None) == has_system_role, refused
    assert refused is None or "template.system: the chat template" in refused


def test_the_probe_renders_with_the_template_stage_options():
    from slmops.modeling.preflight import PROBE_OPTIONS
    from slmops.pipelines.template.chat import TEMPLATE_OPTIONS

    assert PROBE_OPTIONS == TEMPLATE_OPTIONS


def _gguf(path: Path, architecture: str, name: str, template: str | None) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_name(name)
    writer.add_array("tokenizer.ggml.tokens", ["a", "bb", "ccc"])  # string arrays and number arrays are skipped
    writer.add_array("tokenizer.ggml.token_type", [1, 2, 3])
    writer.add_float32(f"{architecture}.rope.freq_base", 10000.0)
    writer.add_bool("tokenizer.ggml.add_bos_token", True)
    if template is not None:
        writer.add_chat_template(template)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_the_gguf_header_reader_reads_what_gguf_reads(tmp_path):
    import gguf

    path = _gguf(tmp_path / "m.gguf", "qwen2", "Tiny", GEMMA)
    wanted = {"general.architecture", "general.name", "tokenizer.chat_template", "absent.key"}
    fields = gguf.GGUFReader(str(path)).fields
    expected = {key: fields[key].contents() for key in wanted if key in fields}
    assert gguf_header_values(path, wanted) == expected == {
        "general.architecture": "qwen2", "general.name": "Tiny", "tokenizer.chat_template": GEMMA}


def test_a_gguf_gets_its_family_and_template(tmp_path):
    assert gguf_facts(_gguf(tmp_path / "a.gguf", "llama", "Mistral 7B Instruct", CHATML)).architecture == \
        "MistralForCausalLM"  # llama.cpp writes Mistral as llama; transformers tells it by name
    assert gguf_facts(_gguf(tmp_path / "b.gguf", "gemma2", "g", None)).chat_template is None
    with pytest.raises(ConfigError, match="c.gguf is a GGUF of architecture 'rwkv6', which transformers cannot load"):
        gguf_facts(_gguf(tmp_path / "c.gguf", "rwkv6", "r", None))
    (tmp_path / "d.gguf").write_bytes(b"GGUF\x03\0\0\0" + b"\0" * 8 + b"\xff" * 8)
    with pytest.raises(InputDataError, match="d.gguf: not a readable GGUF file"):
        gguf_facts(tmp_path / "d.gguf")


def test_the_gguf_names_agree_with_transformers():
    from transformers.models.auto.modeling_auto import (MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
                                                        MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES)

    model_types = {"qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "gpt-oss": "gpt_oss", "gemma3": "gemma3_text",
                   "gemma4": "gemma4_text", "minimax-m2": "minimax_m2"}  # transformers' GGUF loader renames these
    names = {**MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, **MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES}
    assert {gguf: names.get(model_types.get(gguf, gguf)) for gguf in GGUF_ARCHITECTURES} == GGUF_ARCHITECTURES


def _hub_cache(root: Path, repo: str, files: dict[str, str]) -> None:
    folder = root / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs/main").write_text("abc123")
    snapshot = folder / "snapshots/abc123"
    snapshot.mkdir(parents=True)
    for name, text in files.items():
        (snapshot / name).write_text(text)


def test_a_hub_id_is_checked_from_the_cache_or_said_to_be_not_there_yet(tmp_path, monkeypatch, capsys):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    _check("someorg/not-downloaded")
    assert capsys.readouterr().err == (
        "warning: base_model.name_or_path: 'someorg/not-downloaded' (revision main) is not in the Hugging Face cache "
        "yet: its architecture and chat template are checked from the next stage on, once the base_model stage has "
        "downloaded it\n")
    _hub_cache(tmp_path, "someorg/gpt2", {"config.json": json.dumps({"architectures": ["GPT2LMHeadModel"]})})
    with pytest.raises(ConfigError, match="'someorg/gpt2': architecture GPT2LMHeadModel is not one slmops"):
        _check("someorg/gpt2")
    _hub_cache(tmp_path, "someorg/llama", {"config.json": json.dumps({"architectures": ["LlamaForCausalLM"]}),
                                           "tokenizer_config.json": json.dumps({"chat_template": GEMMA})})
    with pytest.raises(ConfigError, match="chat template of 'someorg/llama' refuses a system message"):
        _check("someorg/llama")


def test_what_the_start_up_check_cannot_see_the_base_model_stage_names(tmp_path, tiny_model_dir):
    # A damaged tokenizer.json is only read by transformers (parsing it at every stage start would cost ~30 ms).
    import shutil

    from slmops.pipelines.base_model.nodes import materialize_base_model

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    text = (folder / "tokenizer.json").read_text(encoding="utf-8")
    (folder / "tokenizer.json").write_text(text[: len(text) // 2], encoding="utf-8")
    _check(str(folder))
    with pytest.raises(InputDataError) as raised:
        materialize_base_model({"name_or_path": str(folder)})
    message = str(raised.value)
    assert message.startswith(f"{folder / 'tokenizer.json'}: transformers cannot load the tokenizer (")
    assert message.endswith("); copy the model's files again from where they came, or point "
                            "base_model.name_or_path at a complete model") and "\n" not in message
