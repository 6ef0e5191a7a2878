"""ONNX export with onnxruntime-genai's builder, and its measurement, on the tiny model."""

from __future__ import annotations

import json

import pytest

from slmops.datasets import StagedFolderDataset
from slmops.errors import ConfigError
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.genai import GenaiModel
from slmops.modeling.generation import generate_greedy
from slmops.pipelines.evaluate_onnx.nodes import measure_onnx_model
from slmops.pipelines.export.nodes import build_onnx_model

EXPORT = {
    "targets": ["cpu-fp32", "cpu-int4"],
    "target_options": {
        "cpu-fp32": {"precision": "fp32", "execution_provider": "cpu"},
        "cpu-int4": {"precision": "int4", "execution_provider": "cpu", "builder_options": {"int4_block_size": 32}},
    },
    "speed": {"prompt_count": 2, "new_tokens": 8},
}
PROMPTS = ["<|im_start|>user\nplay some jazz<|im_end|>\n<|im_start|>assistant\n",
           "<|im_start|>user\nwill it rain tomorrow<|im_end|>\n<|im_start|>assistant\n"]


@pytest.fixture(scope="module")
def fp32_onnx(tmp_path_factory, tiny_model_dir):
    staging = build_onnx_model(ModelBundle(path=tiny_model_dir), EXPORT, "cpu-fp32")
    final = tmp_path_factory.mktemp("onnx") / "cpu-fp32"
    StagedFolderDataset(str(final)).save(staging)
    return final


def test_export_writes_a_genai_model_folder(fp32_onnx):
    config = json.loads((fp32_onnx / "genai_config.json").read_text())
    assert config["model"]["type"] == "llama"
    assert (fp32_onnx / "model.onnx").is_file() and (fp32_onnx / "tokenizer.json").is_file()


def test_fp32_onnx_generates_what_pytorch_generates(fp32_onnx, tiny_model_dir):
    bundle = ModelBundle(path=tiny_model_dir)
    expected = generate_greedy(bundle, PROMPTS, max_new_tokens=6, batch_size=1)
    assert GenaiModel(fp32_onnx, bundle.tokenizer).generate(PROMPTS, max_new_tokens=6) == expected


def test_int4_export_is_smaller(fp32_onnx, tiny_model_dir):
    from slmops.pipelines.evaluate_onnx.nodes import folder_size_mb

    int4 = build_onnx_model(ModelBundle(path=tiny_model_dir), EXPORT, "cpu-int4")
    assert folder_size_mb(int4) < folder_size_mb(fp32_onnx)


@pytest.mark.parametrize("target", [None, "none", "cuda-fp16"])
def test_unknown_or_missing_target_is_a_config_error(tiny_model_dir, target):
    with pytest.raises(ConfigError, match="target"):
        build_onnx_model(ModelBundle(path=tiny_model_dir), EXPORT, target)


def test_measure_compares_onnx_with_pytorch(fp32_onnx, tiny_model_dir):
    validation = [{"id": str(i), "prompt": p, "completion": "PlayMusic<|im_end|>", "target": "PlayMusic",
                   "label": "PlayMusic", "input": "x"} for i, p in enumerate(PROMPTS)]
    pytorch = {"rouge1": 0.5, "rouge2": 0.0, "rougeL": 0.5, "f1": 0.5, "exact_match": 0.5, "perplexity": 3.0,
               "seconds": 1.0}
    metrics = measure_onnx_model(fp32_onnx, ModelBundle(path=tiny_model_dir), validation,
                                 {"max_new_tokens": 4, "batch_size": 2}, EXPORT, {"tuned": pytorch}, "cpu-fp32")
    assert metrics["target"] == "cpu-fp32" and metrics["size_mb"] > 0 and metrics["rows"] == 2
    assert metrics["delta"]["f1"] == pytest.approx(metrics["onnx"]["f1"] - 0.5, abs=1e-4)
    decode = metrics["decode"]
    assert decode["prompts"] == 2 and decode["new_tokens"] == 8
    assert decode["onnx_tokens_per_second"] > 0 and decode["pytorch_tokens_per_second"] > 0
    assert decode["speedup"] == pytest.approx(decode["onnx_tokens_per_second"] / decode["pytorch_tokens_per_second"],
                                              rel=0.02)
