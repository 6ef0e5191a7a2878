"""`slmops generate` streams an exported target's answer with the chat template; --bench prints tokens/s;
--threads (default: export.runtime.threads) sets the session's threads at load time."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from helpers.onnx_export import build, saved

from slmops.commands.generate import chat_prompt, generate
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.genai import DEFAULT_THREADS, GenaiModel


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


def test_generate_takes_threads_from_the_option_or_params_and_rejects_a_bad_count(project, monkeypatch):
    monkeypatch.chdir(project)
    args = ["--target", "cpu-fp32", "--max-new-tokens", "4", "--bench", "play jazz"]
    two = CliRunner().invoke(generate, ["--threads", "2", *args])
    assert two.exit_code == 0 and "(threads 2: 2)" in two.stderr, two.output
    shipped = CliRunner().invoke(generate, args)  # params.yaml here has no export.runtime: the shipped default
    assert shipped.exit_code == 0 and shipped.stdout == two.stdout, shipped.output
    assert f"(threads {DEFAULT_THREADS}: " in shipped.stderr
    zero = CliRunner().invoke(generate, ["--threads", "0", *args])
    assert zero.exit_code == 2 and "0 threads: give at least 1" in zero.stderr
    params = project / "params.yaml"
    text = params.read_text()
    try:
        params.write_text(text + "export:\n  runtime:\n    threads: none\n")
        bad = CliRunner().invoke(generate, args)
        assert bad.exit_code == 2 and "error: params.yaml: export.runtime.threads: expected auto" in bad.stderr
    finally:
        params.write_text(text)
