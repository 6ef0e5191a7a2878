"""Refuse a base model that cannot go through the pipeline, at the start of every stage, before any training.

Reads only what is cheap: config.json, the tokenizer's chat template, the safetensors headers (8 bytes and a JSON
each) and, for a GGUF, the header's key-value section. Nothing is loaded and nothing is cached on disk: the
check runs at every stage start (ValidateParamsHook), so an edited model folder is seen at once.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import slmops.modeling.families as families
from slmops.config import Params, TemplateParams
from slmops.errors import ConfigError, InputDataError
from slmops.modeling.families import architecture_refusal, method_refusal
from slmops.modeling.gguf_header import gguf_header_values
from slmops.modeling.sources import ModelSource, check_local_model, resolve_model_source
from slmops.notices import warn_user

# Any one of these is a tokenizer transformers can build (fast JSON, sentencepiece, BPE, WordPiece, tiktoken).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model", "tokenizer.tiktoken")

# GGUF general.architecture -> the class transformers builds from it (transformers' GGUF loader: the GGUF name is
# the model type, "llama" named like Mistral loads as Mistral, Gemma 3 loads as its text-only model).
GGUF_ARCHITECTURES = {
    "llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM",
    "qwen2moe": "Qwen2MoeForCausalLM", "qwen3": "Qwen3ForCausalLM", "qwen3moe": "Qwen3MoeForCausalLM",
    "phi3": "Phi3ForCausalLM", "gemma2": "Gemma2ForCausalLM", "gemma3": "Gemma3ForCausalLM",
    "falcon": "FalconForCausalLM", "bloom": "BloomForCausalLM", "stablelm": "StableLmForCausalLM",
    "gpt2": "GPT2LMHeadModel", "starcoder2": "Starcoder2ForCausalLM", "mamba": "MambaForCausalLM",
    "nemotron": "NemotronForCausalLM", "lfm2": "Lfm2ForCausalLM", "gpt-oss": "GptOssForCausalLM",
    "gemma4": "Gemma4ForCausalLM", "minimax-m2": "MiniMaxM2ForCausalLM", "t5": "T5ForConditionalGeneration",
}

# What the template stage renders, with stand-in text: the roles are what a template may refuse.
PROBE_SYSTEM = {"role": "system", "content": "Answer with the label only."}
PROBE_TURNS = [{"role": "user", "content": "play some jazz"}, {"role": "assistant", "content": "PlayMusic"}]
# The options the template stage renders with (pipelines/template/chat.py TEMPLATE_OPTIONS; a test keeps them equal).
PROBE_OPTIONS = {"date_string": "26 Jul 2024", "enable_thinking": False}


@dataclass(frozen=True)
class ModelFacts:
    architecture: str | None
    chat_template: str | None
    special_tokens: dict[str, str] = field(default_factory=dict)  # what the tokenizer hands a chat template


def check_base_model(params: Params) -> None:
    """Raise one line saying what to change when the base model cannot train, export or take the template."""
    base = params.base_model
    source = resolve_model_source(base.name_or_path)
    facts = read_model_facts(source, base.name_or_path, base.revision)  # first: it names a config.json that is no JSON
    check_local_model(source, base.name_or_path, allow_pickle=base.allow_pickle,
                      trust_remote_code=base.trust_remote_code)
    if facts is None:
        return
    check_family(facts.architecture, params, base.name_or_path)
    check_chat_template(facts, params.template, base.name_or_path)


def read_model_facts(source: ModelSource, name: str, revision: str | None) -> ModelFacts | None:
    """What the checks need, from a GGUF header, a local folder, or the HF cache (None: not cached yet)."""
    folder = Path(source.location)
    if source.gguf_file:
        return gguf_facts(folder / source.gguf_file)
    if folder.is_dir():
        config = _json_file(folder / "config.json")
        check_config(folder / "config.json", config)
        check_weights(folder, config)
        if not any((folder / f).is_file() for f in TOKENIZER_FILES):
            raise InputDataError(str(folder / "tokenizer.json"), "missing, and no other tokenizer file (tokenizer.model, "
                                 "vocab.json) is in the folder; copy the tokenizer files of the model these weights "
                                 "came from into it (tokenizer.save_pretrained(folder) writes them)")
        return _folder_facts(config, folder / "tokenizer_config.json", folder / "chat_template.jinja")
    return _hub_facts(name, revision)


def _hub_facts(repo: str, revision: str | None) -> ModelFacts | None:
    from huggingface_hub import try_to_load_from_cache  # ~0.2 s: only for hub ids

    def cached(filename: str) -> Path | None:
        found = try_to_load_from_cache(repo, filename, revision=revision)
        return Path(found) if isinstance(found, str) else None

    config = cached("config.json")
    if config is None:
        warn_user(f"base_model.name_or_path: '{repo}' (revision {revision or 'main'}) is not in the Hugging Face "
                  "cache yet: its architecture and chat template are checked from the next stage on, once the "
                  "base_model stage has downloaded it")
        return None
    tokenizer_config = cached("tokenizer_config.json")
    if tokenizer_config is None:  # not downloaded yet: the template is checked once it is
        return ModelFacts(_json_file(config).get("architectures", [None])[0], "")
    return _folder_facts(_json_file(config), tokenizer_config, cached("chat_template.jinja"))


def _folder_facts(config: dict[str, Any], tokenizer_config: Path | None, template_file: Path | None) -> ModelFacts:
    tokens = _json_file(tokenizer_config) if tokenizer_config and tokenizer_config.is_file() else {}
    # transformers' order: a chat_template.jinja file wins over tokenizer_config.json's entry.
    template = template_file.read_text(encoding="utf-8") if template_file and template_file.is_file() else \
        tokens.get("chat_template")
    if isinstance(template, list):  # several named templates: the tokenizer applies "default"
        template = next((t.get("template") for t in template if t.get("name") == "default"), None)
    specials = {key: value.get("content", "") if isinstance(value, dict) else value
                for key, value in tokens.items() if key.endswith("_token") and isinstance(value, (str, dict))}
    architectures = config.get("architectures") or [None]
    return ModelFacts(architectures[0], template or None, specials)


def _json_file(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        detail = f"{error.msg} at line {error.lineno}" if isinstance(error, json.JSONDecodeError) else "not UTF-8"
        raise InputDataError(str(path), f"not valid JSON ({detail}); restore the file the model came with") from None
    if not isinstance(value, dict):
        raise InputDataError(str(path), "not a JSON object; restore the file the model came with")
    return value


def check_config(path: Path, config: dict[str, Any]) -> None:
    """Contradictions transformers would only meet on load (after seconds, with a traceback)."""
    hidden, heads, kv = (config.get(k) for k in ("hidden_size", "num_attention_heads", "num_key_value_heads"))
    fix = "restore the config.json that came with these weights"
    if isinstance(hidden, int) and isinstance(heads, int) and heads > 0 and hidden % heads:
        raise InputDataError(str(path), f"hidden_size {hidden} is not a multiple of num_attention_heads {heads}; {fix}")
    if isinstance(heads, int) and isinstance(kv, int) and kv > 0 and heads % kv:
        raise InputDataError(str(path), f"num_attention_heads {heads} is not a multiple of num_key_value_heads {kv}; "
                             f"{fix}")


def check_weights(folder: Path, config: dict[str, Any]) -> None:
    """Every safetensors file complete (its header readable, its size what the header describes), the shards the
    index names present, and the embedding's shape the one config.json describes."""
    index = folder / "model.safetensors.index.json"
    files = sorted(folder.glob("*.safetensors"))
    if index.is_file():
        named = sorted(set(_json_file(index).get("weight_map", {}).values()))
        missing = [name for name in named if not (folder / name).is_file()]
        if missing:
            raise InputDataError(str(folder / missing[0]), f"missing ({index.name} names {len(named)} weight files, "
                                 f"{len(missing)} are absent); copy or download the missing files")
    for path in files:
        for name, (dtype, shape) in _safetensors_header(path).items():
            if name.endswith("embed_tokens.weight"):
                _check_embedding(folder, path.name, name, shape, config)


def _safetensors_header(path: Path) -> dict[str, tuple[str, list[int]]]:
    fix = "copy or download the file again"
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        if length < 0 or 8 + length > size:
            raise InputDataError(str(path), f"truncated ({size} bytes, not even its header); {fix}")
        try:
            header = json.loads(handle.read(length))
            tensors = {k: (v["dtype"], v["shape"], v["data_offsets"][1]) for k, v in header.items()
                       if k != "__metadata__"}
        except (ValueError, TypeError, KeyError, IndexError):
            raise InputDataError(str(path), f"not a safetensors file (its header is unreadable); {fix}") from None
    expected = 8 + length + max((end for *_, end in tensors.values()), default=0)
    if size != expected:
        what = "truncated" if size < expected else "damaged"
        raise InputDataError(str(path), f"{what}: {size} bytes where its header describes {expected}; {fix}")
    return {name: (dtype, shape) for name, (dtype, shape, _) in tensors.items()}


def _check_embedding(folder: Path, weights: str, name: str, shape: list[int], config: dict[str, Any]) -> None:
    said = [(key, config.get(key), size) for key, size in zip(("vocab_size", "hidden_size"), shape, strict=False)]
    wrong = [f"{key} {value}" for key, value, size in said if isinstance(value, int) and value != size]
    if wrong:
        raise InputDataError(str(folder / "config.json"), f"{' and '.join(wrong)} disagree{'s' * (len(wrong) == 1)} with {weights} "
                             f"({name} is {' x '.join(map(str, shape))}); restore the config.json that came with "
                             "these weights")


def gguf_facts(path: Path) -> ModelFacts:
    values = gguf_header_values(path, {"general.architecture", "general.name", "tokenizer.chat_template"})
    arch = str(values.get("general.architecture", ""))
    if arch == "llama" and "mistral" in str(values.get("general.name", "")).lower():
        arch = "mistral"
    if arch not in GGUF_ARCHITECTURES:
        raise ConfigError(f"params.yaml: base_model.name_or_path: {path.name} is a GGUF of architecture '{arch}', "
                          "which transformers cannot load from GGUF; use an HF model folder or a GGUF of a supported "
                          "family")
    return ModelFacts(GGUF_ARCHITECTURES[arch], values.get("tokenizer.chat_template") or None,
                      {"bos_token": "<s>", "eos_token": "</s>"})  # stand-ins: only the roles are probed


def check_family(architecture: str | None, params: Params, name: str) -> None:
    """The architecture, each requested training method and each export target, against slmops.modeling.families."""
    refused = architecture_refusal(architecture)
    if refused:
        raise ConfigError(f"params.yaml: base_model.name_or_path: '{name}': {refused}; use a base model of a "
                          "supported family")
    train, export = params.train, params.export
    asked = [(train.method, "train.method", f"choose another train.method than '{train.method}'")]
    if train.quantization_aware is not None:
        asked.append(("quantization_aware", "train.quantization_aware", "set train.quantization_aware: null"))
    if export.adapters == "separate":
        asked.append(("adapters:separate", "export.adapters", "set export.adapters: merged"))
    for method, key, fix in asked:
        refused = method_refusal(architecture, method)
        if refused:
            raise ConfigError(f"params.yaml: {key}: not with '{name}' ({architecture}): {refused}; {fix}")
    target_refusal = getattr(families, "target_refusal", None)  # filled in by the family matrix when it lands
    for target in export.targets if target_refusal else ():
        refused = target_refusal(architecture, target)
        if refused:
            raise ConfigError(f"params.yaml: export.targets: {target} with '{name}' ({architecture}): {refused}; "
                              f"remove {target} from export.targets")


def check_chat_template(facts: ModelFacts, template: TemplateParams, name: str) -> None:
    """The chat template takes what the template stage will hand it: a user turn, an answer, the system text."""
    if not template.use_chat_template or facts.chat_template == "":  # "": a hub model's tokenizer not cached yet
        return
    if facts.chat_template is None:
        raise ConfigError(f"params.yaml: template.use_chat_template: '{name}' has no chat template (no "
                          "chat_template.jinja, none in tokenizer_config.json); set template.use_chat_template: "
                          "false to train on plain text, or use a model that has one")
    try:
        compiled = _jinja_environment().from_string(facts.chat_template)
    except Exception as error:  # noqa: BLE001 - jinja2's syntax errors and the sandbox's refusals alike
        compiled, problem = None, _said(error)
    else:
        problem = probe_chat_template(compiled, facts.special_tokens, [])
    if problem:
        raise ConfigError(f"params.yaml: template.use_chat_template: the chat template of '{name}' cannot render "
                          f"a user turn and an answer ({problem}); set template.use_chat_template: false")
    problem = probe_chat_template(compiled, facts.special_tokens, [PROBE_SYSTEM]) if template.system else None
    if problem:
        raise ConfigError(f"params.yaml: template.system: the chat template of '{name}' refuses a system message "
                          f"({problem}); set template.system: null and put the instruction into template.prompt, or set "
                          "template.use_chat_template: false")


def probe_chat_template(compiled: Any, special_tokens: dict[str, str], before: list[dict]) -> str | None:
    """Why rendering ``before`` + the probe turns fails, as the template stage renders them (None: it renders)."""
    try:
        for messages, prompt in (([*before, PROBE_TURNS[0]], True), ([*before, *PROBE_TURNS], False)):
            compiled.render(messages=messages, tools=None, documents=None, add_generation_prompt=prompt,
                            **{**special_tokens, **PROBE_OPTIONS})
    except Exception as error:  # noqa: BLE001 - a template is the model's data: whatever it raises, the stage would
        return _said(error)
    return None


def _said(error: Exception) -> str:
    text = str(error).strip()
    return repr(text.splitlines()[0]) if text else type(error).__name__


@functools.cache
def _jinja_environment():  # noqa: ANN202 - a jinja2 environment, imported here (~30 ms) only when probing
    """transformers' chat-template environment (utils/chat_template_utils.py), rebuilt from jinja2 alone.

    Importing transformers costs ~1 s, which the stages that never load a model (ingest, split, report) would pay
    at every start; tests/test_preflight.py renders the same templates both ways and compares.
    """
    import json as _json
    from datetime import datetime

    import jinja2
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generation(Extension):  # {% generation %}...{% endgeneration %}: transformers marks answers with it
        tags = {"generation"}

        def parse(self, parser):  # noqa: ANN001, ANN202 - jinja2's extension API
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller):  # noqa: ANN001, ANN202
            return caller()

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):  # noqa: ANN001, ANN202
        return _json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals.update(raise_exception=raise_exception, strftime_now=lambda fmt: datetime.now().strftime(fmt))
    return env
