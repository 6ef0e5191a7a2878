"""Quantization-aware LoRA: the merged model is exactly what the int4 ONNX target computes."""

from __future__ import annotations

import numpy as np
import pytest
from merging import give_adapter_values, logits_of

from slmops.config import TrainParams
from slmops.datasets import StagedFolderDataset
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.genai import GenaiModel
from slmops.modeling.generation import generate_greedy
from slmops.modeling.quantization import fake_quantize
from slmops.pipelines.export.nodes import build_onnx_model
from slmops.pipelines.train.methods import merge_for_export, wrap_for_training

pytestmark = pytest.mark.fast  # in `make test-fast`

QAT = TrainParams(lora={"r": 4, "alpha": 8, "dropout": 0.0}, quantization_aware={"block_size": 32})


def _ort_int4_grid(weight: np.ndarray, block_size: int) -> np.ndarray:
    """onnxruntime's own int4 quantize-dequantize of a Linear weight [out, in] (the reference)."""
    from onnxruntime.capi._pybind_state import quantize_matmul_4bits

    rows, cols = weight.shape[1], weight.shape[0]  # MatMul B is [in, out]
    blocks = rows // block_size
    packed = np.zeros((cols, blocks, block_size // 2), dtype="uint8")
    zero_points = np.zeros((cols, (blocks + 1) // 2), dtype="uint8")
    scales = np.zeros((cols, blocks), dtype=np.float32)
    quantize_matmul_4bits(packed, np.ascontiguousarray(weight.T), scales, zero_points, block_size, cols, rows, True)
    codes = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(cols, blocks, block_size).astype(np.float32)
    return ((codes - 8.0) * scales[:, :, None]).reshape(cols, rows)


@pytest.mark.parametrize("shape", [(192, 576), (1536, 576), (64, 128)])
def test_fake_quantize_matches_onnxruntime(shape):
    import torch

    torch.manual_seed(0)
    weight = torch.randn(*shape) * 0.05
    ours = fake_quantize(weight, 32).numpy()
    reference = _ort_int4_grid(weight.numpy(), 32)
    assert np.mean(np.abs(ours - reference) > 1e-7) < 1e-4  # rounding ties may differ, nothing else
    assert len(np.unique(ours[0, :32])) <= 16  # a block holds at most 16 levels


def test_gradients_pass_straight_through():
    import torch

    weight = torch.randn(8, 64, requires_grad=True)
    fake_quantize(weight, 32).sum().backward()
    assert torch.equal(weight.grad, torch.ones_like(weight))


def test_merged_weights_are_on_the_grid_and_match_the_trained_model(tiny_model_dir, smollm2_tokenizer):
    import torch

    model = wrap_for_training(ModelBundle(path=tiny_model_dir).model, QAT)
    give_adapter_values(model)
    trained = logits_of(model, smollm2_tokenizer)
    merged = merge_for_export(model, QAT)  # in place: no second copy of the model
    for module in merged.modules():
        if isinstance(module, torch.nn.Linear):
            assert torch.equal(module.weight, fake_quantize(module.weight, 32))
    assert torch.allclose(trained, logits_of(merged, smollm2_tokenizer), atol=1e-4)


def test_int4_onnx_generates_exactly_what_the_merged_model_generates(tmp_path, tiny_model_dir, smollm2_tokenizer):
    model = wrap_for_training(ModelBundle(path=tiny_model_dir).model, QAT)
    give_adapter_values(model)
    merged = ModelBundle(model=merge_for_export(model, QAT), tokenizer=smollm2_tokenizer)
    folder = tmp_path / "merged"
    merged.model.save_pretrained(folder)
    smollm2_tokenizer.save_pretrained(folder)
    export = {"targets": ["cpu-int4"], "target_options": {"cpu-int4": {
        "precision": "int4", "execution_provider": "cpu", "block_size": 32, "accuracy_level": 1}}}
    onnx_folder = tmp_path / "onnx"
    StagedFolderDataset(str(onnx_folder)).save(build_onnx_model(ModelBundle(path=folder), ModelBundle(path=folder), folder, folder, export,
                                                                  {"name_or_path": "tiny-llama"},
                                                                  {"method": "lora", "quantization_aware": None}, "cpu-int4"))
    prompts = ["<|im_start|>user\nplay some jazz<|im_end|>\n<|im_start|>assistant\n",
               "<|im_start|>user\nbook a table for two<|im_end|>\n<|im_start|>assistant\n"]
    pytorch = generate_greedy(ModelBundle(path=folder), prompts, max_new_tokens=8, batch_size=1)
    assert GenaiModel(onnx_folder, smollm2_tokenizer).generate(prompts, max_new_tokens=8) == pytorch
