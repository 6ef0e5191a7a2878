"""ONNX export with onnxruntime-genai's builder, and its measurement, on the tiny model."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers.onnx_export import EVAL_METRICS, EXPORT, PROMPTS, build, rows_with_pytorch_predictions, saved

from slmops.errors import ConfigError, QualityGateError
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.genai import GenaiModel
from slmops.modeling.generation import generate_greedy
from slmops.pipelines.evaluate_onnx.nodes import folder_size_mb, gate_quality, measure_onnx_model

@pytest.fixture(scope="module")
def fp32_onnx(tmp_path_factory, tiny_model_dir):
    return saved(tmp_path_factory, build(tiny_model_dir, "cpu-fp32"), "cpu-fp32")


def test_export_writes_a_genai_model_folder_with_a_model_card(fp32_onnx):
    config = json.loads((fp32_onnx / "genai_config.json").read_text())
    assert config["model"]["type"] == "llama"
    assert (fp32_onnx / "model.onnx").is_file() and (fp32_onnx / "tokenizer.json").is_file()
    card = (fp32_onnx / "README.md").read_text()
    assert "`tiny-llama`" in card and "| precision | fp32 |" in card and "| execution provider | cpu |" in card
    assert "slmops generate --target cpu-fp32" in card and "## Lineage" in card and "slmops lineage" in card


def test_fp32_onnx_generates_what_pytorch_generates(fp32_onnx, tiny_model_dir):
    bundle = ModelBundle(path=tiny_model_dir)
    expected = generate_greedy(bundle, PROMPTS, max_new_tokens=6, batch_size=1)
    assert GenaiModel(fp32_onnx, bundle.tokenizer).generate(PROMPTS, max_new_tokens=6) == expected


def test_int4_export_is_smaller(fp32_onnx, tiny_model_dir):
    int4 = build(tiny_model_dir, "cpu-int4")
    try:
        assert folder_size_mb(int4) < folder_size_mb(fp32_onnx)
    finally:
        shutil.rmtree(int4)  # a staging folder the dataset would have moved into place


@pytest.mark.parametrize("target", [None, "none", "cuda-int4"])
def test_unknown_or_missing_target_is_a_config_error(tiny_model_dir, target):
    with pytest.raises(ConfigError, match="target"):
        build(tiny_model_dir, target)


def test_measure_reports_every_figure_against_pytorch(fp32_onnx, tiny_model_dir):
    bundle = ModelBundle(path=tiny_model_dir)
    rows, predictions = rows_with_pytorch_predictions(bundle)
    metrics, card = measure_onnx_model(fp32_onnx, bundle, rows, predictions, {"max_new_tokens": 4, "batch_size": 2},
                                       EXPORT, EVAL_METRICS, "cpu-fp32")
    assert metrics["ran"] and metrics["target"] == "cpu-fp32" and metrics["size_mb"] > 0 and metrics["rows"] == 2
    assert metrics["load_seconds"] > 0 and metrics["peak_memory_mb"] > 0
    assert metrics["quality"]["delta"]["f1"] == pytest.approx(metrics["quality"]["onnx"]["f1"] - 0.5, abs=1e-4)
    assert metrics["greedy_agreement"] == 1.0 and metrics["greedy_agreement_rows"] == 2  # fp32 = PyTorch
    decode = metrics["decode"]
    assert decode["prompts"] == 2 and decode["new_tokens"] == 8 and decode["onnx_first_token_ms"] > 0
    assert decode["pytorch_tokens_per_second"] == 12.5  # the evaluate stage's baseline, not measured again
    assert decode["speedup"] == pytest.approx(decode["onnx_tokens_per_second"] / 12.5, rel=0.02)
    assert f"{decode['onnx_tokens_per_second']} tokens/s" in card and "100.0% of them" in card


def test_a_target_without_its_provider_is_built_checked_and_said_not_run(tmp_path_factory, tiny_model_dir):
    folder = saved(tmp_path_factory, build(tiny_model_dir, "cuda-fp16"), "cuda-fp16")
    assert json.loads((folder / "genai_config.json").read_text())["model"]["decoder"]["session_options"][
        "provider_options"][0].keys() == {"cuda"}
    bundle = ModelBundle(path=tiny_model_dir)
    rows, predictions = rows_with_pytorch_predictions(bundle)
    metrics, card = measure_onnx_model(folder, bundle, rows, predictions, {"max_new_tokens": 4}, EXPORT,
                                       EVAL_METRICS, "cuda-fp16")
    assert metrics["ran"] is False and "not run here: the cuda provider is not available" in metrics["not_run_reason"]
    assert "/" not in metrics["not_run_reason"]  # no path of this machine in an artifact
    assert metrics["structure"]["graph_loads"] and metrics["structure"]["provider_options"] == ["cuda"]
    assert not {"decode", "quality", "onnx", "greedy_agreement", "peak_memory_mb"} & set(metrics)  # no invented numbers
    assert "Not run: not run here" in card
    gate_quality(metrics, EXPORT)  # nothing measured, nothing to gate


def test_the_quality_gate_fails_with_the_numbers():
    metrics = {"ran": True, "target": "cpu-int4", "quality": {"onnx": {"f1": 0.90}, "pytorch": {"f1": 0.97}}}
    with pytest.raises(QualityGateError, match=r"target cpu-int4: f1 0.9000 is 0.0700 below PyTorch's 0.9700, "
                                               r"more than export.max_quality_drop 0.05"):
        gate_quality(metrics, {**EXPORT, "max_quality_drop": 0.05})
    gate_quality(metrics, {**EXPORT, "max_quality_drop": 0.08})
