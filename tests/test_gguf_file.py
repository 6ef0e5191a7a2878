"""base_model.name_or_path may name a user's own .gguf file: loaded like the embedded one, hashed in its lineage."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_gguf import write_tiny_gguf

from slmops.commands.inputs import Hasher, base_model_fingerprint
from slmops.config import EMBEDDED_MODEL
from slmops.errors import ConfigError
from slmops.lineage.hashing import file_md5
from slmops.lineage.source import base_model_source
from slmops.modeling.embedded import embedded_gguf
from slmops.modeling.sources import resolve_model_source
from slmops.pipelines.base_model.nodes import materialize_base_model


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory, tiny_model_dir) -> Path:
    folder = tmp_path_factory.mktemp("models")
    return write_tiny_gguf(tiny_model_dir, embedded_gguf(EMBEDDED_MODEL), folder / "tiny-llama.f32.gguf")


def test_a_gguf_file_is_the_base_model_with_its_weights_and_tokenizer(tiny_gguf, tiny_model_dir, smollm2_tokenizer):
    import torch
    from transformers import AutoModelForCausalLM

    bundle, loaded = materialize_base_model({"name_or_path": str(tiny_gguf)})
    assert loaded["weights"] == "gguf"
    assert bundle.model.config.architectures in (None, ["LlamaForCausalLM"])
    assert getattr(bundle.model.config, "quantization_config", None) is None  # saved as a plain model
    ids = smollm2_tokenizer("play some jazz", return_tensors="pt")["input_ids"]
    assert bundle.tokenizer("play some jazz")["input_ids"] == ids[0].tolist()
    expected = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.inference_mode():
        assert torch.allclose(bundle.model(ids).logits, expected(ids).logits, atol=1e-5)


def test_its_lineage_and_fingerprint_hash_the_file(tiny_gguf, tmp_path):
    source = base_model_source({"name_or_path": str(tiny_gguf)}, tiny_gguf.parent)
    assert source == {"name_or_path": tiny_gguf.name, "revision": None, "file": tiny_gguf.name,
                      "md5": file_md5(tiny_gguf)}
    assert base_model_fingerprint({"name_or_path": str(tiny_gguf)}, Hasher(tmp_path / "memo.json")) == {
        "kind": "file", "md5": file_md5(tiny_gguf)}


def test_a_missing_gguf_or_a_plain_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"'models/none\.gguf' does not exist; point it at a \.gguf file"):
        resolve_model_source("models/none.gguf")
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"x")
    with pytest.raises(ConfigError, match="is a file; point it at a Hugging Face model folder"):
        resolve_model_source(str(weights))
