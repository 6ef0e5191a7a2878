"""The family matrix: every architecture slmops accepts, trained, exported and run end to end.

For each variant of each family in slmops.modeling.families (a tiny random-init model from
tests/family_models.py, with that family's chat template and special tokens) and each matrix cell:
train with the real train node (2 steps), export with the real export node, generate with
onnxruntime-genai as evaluate_onnx does, and compare with PyTorch greedy decoding of the merged
model. One training serves every cell that asks for the same setup (module-scoped cache).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from family_models import build_family_model, onnx_token_ids, pytorch_token_ids
from family_tokenizers import family_spec, tokenizer_for
from helpers.training import TEMPLATE, template_examples, write_split

from slmops.modeling import families
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.families import CELLS, FAMILIES, cell_refusal
from slmops.modeling.genai import GenaiModel
from slmops.modeling.generation import generate_greedy
from slmops.pipelines.export.nodes import build_onnx_model
from slmops.pipelines.template.nodes import render_chat, render_text
from slmops.pipelines.train.nodes import train_model

ROOT = Path(__file__).resolve().parents[1]
EXPORT = {"targets": ["cpu-int4", "cpu-fp32"], "target_options": {
    # fp32 activations: an int4 MatMul then computes exactly x @ Q(W), what quantization-aware training computed.
    "cpu-int4": {"precision": "int4", "execution_provider": "cpu", "block_size": 32, "accuracy_level": 1},
    "cpu-fp32": {"precision": "fp32", "execution_provider": "cpu"}}}
NEW_TOKENS = 6
QUESTIONS = ["play some jazz", "will it rain tomorrow in paris"]
VARIANTS = [(family.architecture, variant) for family in FAMILIES.values() for variant in family.variants]


def _family_key(variant: str) -> str:
    return variant.split("-")[0]  # phi3-longrope: Phi-3's tokenizer


class Matrix:
    """Builds, trains and exports lazily, each once per module."""

    def __init__(self, root: Path, base_tokenizer, rows):
        self.root, self.base_tokenizer, self.rows = root, base_tokenizer, rows
        self.models, self.trainings, self.exports = {}, {}, {}

    def model(self, variant: str) -> tuple[Path, object]:
        if variant not in self.models:
            tokenizer = tokenizer_for(_family_key(variant), self.base_tokenizer)
            self.models[variant] = build_family_model(variant, tokenizer, self.root / variant / "base"), tokenizer
        return self.models[variant]

    def prompts(self, variant: str) -> list[str]:
        _, tokenizer = self.model(variant)
        # As the template stage writes them: the chat template (fixed date, thinking off), or plain text for a
        # base model without one (Phi-2).
        render = render_chat if tokenizer.chat_template else render_text
        return [render(tokenizer, None, q, "")[0] for q in QUESTIONS]

    def trained(self, variant: str, train: dict) -> tuple[Path, Path]:
        key = (variant, json.dumps(train, sort_keys=True))
        if key not in self.trainings:
            folder, tokenizer = self.model(variant)
            work = self.root / variant / f"train-{len(self.trainings)}"
            work.mkdir(parents=True)
            system = "Classify." if family_spec(_family_key(variant))["system_role"] else None
            examples = template_examples(self.rows[:12], tokenizer, {**TEMPLATE, "system": system})
            params = {"max_steps": 2, "batch_size": 4, "learning_rate": 0.002, "logging_steps": 1, "save_steps": 50,
                      "lora": {"r": 4, "alpha": 8, "dropout": 0.0}, **train}
            adapter, merged, *_ = train_model(ModelBundle(path=folder), write_split(work / "train.jsonl", examples[:8]),
                                              write_split(work / "validation.jsonl", examples[8:]), params,
                                              work / "checkpoints", work / "tensorboard")
            self.trainings[key] = adapter, merged
        return self.trainings[key]

    def exported(self, variant: str, train: dict, adapters: str, target: str) -> Path:
        key = (variant, json.dumps(train, sort_keys=True), adapters, target)
        if key not in self.exports:
            base, _ = self.model(variant)
            adapter, merged = self.trained(variant, train)
            self.exports[key] = build_onnx_model(
                ModelBundle(path=merged), ModelBundle(path=base), adapter, self.root, {**EXPORT, "adapters": adapters},
                {"name_or_path": variant}, train, target)
        return self.exports[key]

    def onnx_answers(self, variant: str, train: dict, adapters: str, target: str) -> tuple[list, list[str]]:
        """(token ids, decoded answers as evaluate_onnx reads them)."""
        _, tokenizer = self.model(variant)
        folder = self.exported(variant, train, adapters, target)
        onnx = GenaiModel(folder, tokenizer, adapter="tuned" if adapters == "separate" else None)
        prompts = self.prompts(variant)
        return onnx_token_ids(onnx, prompts, NEW_TOKENS), onnx.generate(prompts, NEW_TOKENS)

    def pytorch_answers(self, variant: str, train: dict) -> tuple[list, list[str]]:
        _, merged = self.trained(variant, train)
        _, tokenizer = self.model(variant)
        prompts = self.prompts(variant)
        return (pytorch_token_ids(merged, tokenizer, prompts, NEW_TOKENS),
                generate_greedy(ModelBundle(path=merged), prompts, NEW_TOKENS, batch_size=1))

    def close(self) -> None:
        for folder in self.exports.values():
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def matrix(tmp_path_factory, smollm2_tokenizer, snips_rows):
    built = Matrix(tmp_path_factory.mktemp("family-matrix"), smollm2_tokenizer, snips_rows)
    yield built
    built.close()


@pytest.mark.parametrize("cell", CELLS, ids=[f"{c.column}@{c.target}" for c in CELLS])
@pytest.mark.parametrize("architecture, variant", VARIANTS, ids=[v for _, v in VARIANTS])
def test_each_family_cell_gives_pytorchs_tokens(matrix, architecture, variant, cell):
    refusal = cell_refusal(architecture, cell)
    if refusal is not None:  # refused cells are asserted by their own tests below, with the exact text
        pytest.skip(f"refused: {refusal}")
    ids, texts = matrix.onnx_answers(variant, cell.train, cell.adapters, cell.target)
    assert (ids, texts) == matrix.pytorch_answers(variant, cell.train)
    assert all(ids), "no token generated proves nothing"
    if cell.adapters == "separate":  # the separate adapter gives the merged export's tokens
        assert (ids, texts) == matrix.onnx_answers(variant, cell.train, "merged", "cpu-fp32")


def test_an_architecture_outside_the_matrix_is_refused_by_name():
    supported = ("Gemma, Gemma 2, Gemma 3 (text), Granite, Llama, Mistral, Nemotron, OLMo, Phi-2, Phi-3, Qwen2, "
                 "Qwen3, SmolLM3")
    assert families.architecture_refusal("GPT2LMHeadModel") == (
        f"architecture GPT2LMHeadModel is not one slmops exports with the onnxruntime-genai builder "
        f"(supported: {supported})")
    assert families.architecture_refusal(None) == "its config.json names no architecture ('architectures' is missing)"
    cell = CELLS[0]
    assert families.cell_refusal("GPT2LMHeadModel", cell) == families.architecture_refusal("GPT2LMHeadModel")


def test_every_variant_has_a_config_and_a_chat_template():
    from family_models import CONFIGS
    from family_tokenizers import FAMILY_KEYS

    assert sorted(CONFIGS) == sorted(v for _, v in VARIANTS)
    assert {_family_key(v) for _, v in VARIANTS} <= set(FAMILY_KEYS)


def test_the_docs_support_matrix_is_what_the_script_writes():
    written = subprocess.run([sys.executable, str(ROOT / "scripts/support_matrix.py"), "--stdout"],
                             capture_output=True, text=True, check=True).stdout
    assert (ROOT / "docs/support-matrix.md").read_text(encoding="utf-8") == written, \
        "docs/support-matrix.md is stale: run `python scripts/support_matrix.py`"


@pytest.mark.parametrize("variant", ["gemma2", "gemma3"])
def test_a_sliding_window_model_runs_in_evaluate_onnx_and_slmops_generate(matrix, variant):
    """The runtime wants a KV cache as long as the window (4096 for Gemma-2) for any prompt: searched that
    far, each path still stops at its own token count."""
    from slmops.commands.generate import stream_generate

    cell = next(c for c in CELLS if c.adapters == "merged" and c.target == "cpu-fp32")
    folder = matrix.exported(variant, cell.train, "merged", "cpu-fp32")
    _, tokenizer = matrix.model(variant)
    onnx = GenaiModel(folder, tokenizer)
    assert onnx.window in (4096, 512)
    speed = onnx.measure_decode_speed(matrix.prompts(variant), 5)  # exact: evaluate_onnx's speed figures
    assert speed["tokens_per_second"] > 0
    pieces: list[str] = []
    stats = stream_generate(folder, matrix.prompts(variant)[0], 5, None, pieces.append, threads=1)
    assert stats["tokens"] == 5 and len(pieces) == 5
