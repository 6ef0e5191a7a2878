"""Shared fixtures: the real SmolLM2 tokenizer on a tiny random Llama, and a project copy to run in.

Tests never load the 135M model: the tokenizer comes from the embedded GGUF's metadata only.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Tests never reach a model or dataset hub (CI has none): fail fast instead of retrying.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    from transformers import AutoTokenizer

    from slmops.config import EMBEDDED_MODEL
    from slmops.modeling.sources import resolve_model_source

    source = resolve_model_source(EMBEDDED_MODEL)
    tokenizer = AutoTokenizer.from_pretrained(source.location, gguf_file=source.gguf_file)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, smollm2_tokenizer) -> Path:
    """A 2-layer, 64-wide random Llama with SmolLM2's vocabulary and chat template, saved as an HF folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = smollm2_tokenizer
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def tiny_bundle(tiny_model_dir):
    from slmops.modeling.bundle import ModelBundle

    return ModelBundle(path=tiny_model_dir)


@pytest.fixture(scope="session")
def snips_rows() -> list[dict]:
    import json

    lines = (ROOT / "data/01_raw/snips-intents.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_model_dir, snips_rows) -> Path:
    """The tiny project after one `dvc repro`, shared by the session (tests/project.py): read it in place, or take
    `project.copy_of(tiny_run, ...)` to change it, which costs a file copy instead of another run."""
    from project import reproduced_tiny_project

    return reproduced_tiny_project(tmp_path_factory, tiny_model_dir, snips_rows)


def copy_project(destination: Path) -> Path:
    """The files a user clones (code, conf, params, dvc.yaml, raw data), without artifacts."""
    for name in ("pyproject.toml", "params.yaml", "dvc.yaml", ".telemetry", "data/00_inputs/dvc.yaml"):
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, destination / name)
    # data/06_models/extra_adapters is in git (its README) so `export` can depend on it before any adapter is added.
    for folder in ("conf", "src", "data/01_raw", "data/06_models/extra_adapters"):
        shutil.copytree(ROOT / folder, destination / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (destination / "conf/local").mkdir(exist_ok=True)
    return destination


@pytest.fixture(scope="module")
def examples(snips_rows, smollm2_tokenizer) -> list[dict]:
    """The first 40 SNIPS rows through the template stage (helpers.training's TEMPLATE and DATA): what
    `helpers.training.train_tiny` splits into 32 training and 8 validation rows."""
    from helpers.training import template_examples

    return template_examples(snips_rows[:40], smollm2_tokenizer)
