"""`slmops generate` streams an exported target's answer with the chat template; --bench prints tokens/s."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from slmops.commands.generate import chat_prompt, generate
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.genai import GenaiModel
from test_export import build, saved


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("generate")
    onnx = root / "data/07_model_output/onnx"
    onnx.mkdir(parents=True)
    saved(tmp_path_factory, build(tiny_model_dir, "cpu-fp32"), "m").rename(onnx / "cpu-fp32")
    (root / "params.yaml").write_text('template:\n  system: "Classify the intent."\n')
    return root


def test_generate_streams_what_the_model_generates_with_the_chat_template(project, monkeypatch, tiny_model_dir):
    monkeypatch.chdir(project)
    result = CliRunner().invoke(generate, ["--target", "cpu-fp32", "--max-new-tokens", "6", "--bench", "play jazz"])
    assert result.exit_code == 0, result.output
    folder = project / "data/07_model_output/onnx/cpu-fp32"
    prompt = chat_prompt(folder, "play jazz", "Classify the intent.")
    assert prompt.startswith("<|im_start|>system\nClassify the intent.<|im_end|>")
    bundle = ModelBundle(path=tiny_model_dir)
    expected = GenaiModel(folder, bundle.tokenizer).generate([prompt], max_new_tokens=6)[0]
    assert result.stdout.strip() == expected.strip()
    assert "decode" in result.stderr and "tokens/s" in result.stderr and "first token" in result.stderr


def test_generate_names_a_missing_target_and_a_missing_adapter(project, monkeypatch):
    monkeypatch.chdir(project)
    result = CliRunner().invoke(generate, ["--target", "cuda-fp16", "hi"])
    assert result.exit_code == 2
    assert "no exported model for target 'cuda-fp16' (exported here: cpu-fp32" in result.stderr
    result = CliRunner().invoke(generate, ["--target", "cpu-fp32", "--adapter", "weather", "hi"])
    assert result.exit_code == 2 and "exported with merged adapters" in result.stderr
