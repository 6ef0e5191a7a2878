"""export.float_weights: a float target holds the merged model's int4-grid weights, or base + adapter unrounded."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import yaml
from helpers.onnx_export import EXPORT, PROMPTS, peft_model, saved

from slmops.config import validate_params
from slmops.errors import ConfigError
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.genai import GenaiModel
from slmops.modeling.generation import generate_greedy
from slmops.modeling.quantization import round_to_int4_grid
from slmops.pipelines.export.nodes import build_onnx_model

ROOT = Path(__file__).resolve().parents[1]
AWARE = {"method": "lora", "quantization_aware": {"bits": 4, "block_size": 32, "target": "merged"}}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir, smollm2_tokenizer):
    """What quantization-aware training leaves: the adapter, and its merge rounded onto the int4 grid."""
    root = tmp_path_factory.mktemp("float-weights")
    peft = peft_model(tiny_model_dir, seed=5, rank=8)
    peft.save_pretrained(root / "adapter")
    merged = peft.merge_and_unload()
    unrounded = generate_greedy(ModelBundle(model=merged, tokenizer=smollm2_tokenizer), PROMPTS, 6, batch_size=1)
    with torch.no_grad():
        for module in merged.modules():
            if isinstance(module, torch.nn.Linear):  # the tied LM head rounds the embedding with it
                module.weight.copy_(round_to_int4_grid(module.weight, 32))
    merged.save_pretrained(root / "merged")
    smollm2_tokenizer.save_pretrained(root / "merged")
    rounded = generate_greedy(ModelBundle(path=root / "merged"), PROMPTS, 6, batch_size=1)
    assert rounded != unrounded  # else this test could not tell the two apart
    return root, {"merged_model": rounded, "unrounded": unrounded}


@pytest.mark.parametrize("float_weights", ["merged_model", "unrounded"])
def test_a_float_target_holds_the_chosen_weights(tmp_path_factory, tiny_model_dir, trained, smollm2_tokenizer,
                                                 float_weights):
    root, expected = trained
    staging = build_onnx_model(ModelBundle(path=root / "merged"), ModelBundle(path=tiny_model_dir), root / "adapter",
                               root, {**EXPORT, "float_weights": float_weights}, {"name_or_path": "tiny-llama"},
                               AWARE, "cpu-fp32")
    folder = saved(tmp_path_factory, staging, f"cpu-fp32-{float_weights}")
    assert GenaiModel(folder, smollm2_tokenizer).generate(PROMPTS, max_new_tokens=6) == expected[float_weights]
    card = (folder / "README.md").read_text()
    if float_weights == "merged_model":
        assert "fp32 weights holding int4-grid values" in card and "export.float_weights: unrounded" in card
    else:
        assert "merged without int4 rounding (`export.float_weights: unrounded`)" in card
    assert not list(Path(staging).parent.glob("slmops-unrounded-*"))  # the unrounded merge is not left behind


def test_int4_targets_always_use_the_merged_model(tiny_model_dir, trained):
    root, _ = trained
    staging = build_onnx_model(ModelBundle(path=root / "merged"), ModelBundle(path=tiny_model_dir), root / "nowhere",
                               root, {**EXPORT, "float_weights": "unrounded"}, {"name_or_path": "tiny-llama"},
                               AWARE, "cpu-int4")  # no adapter folder needed: int4 holds the rounded merge
    assert "int4 weights (MatMulNBits" in (staging / "README.md").read_text()


def test_unrounded_float_weights_need_an_adapter_to_merge():
    params = copy.deepcopy(yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8")))
    params["export"]["float_weights"] = "unrounded"
    assert validate_params(params).export.float_weights == "unrounded"
    params["train"]["method"] = "full"
    with pytest.raises(ConfigError, match="export.float_weights: unrounded merges the adapter without int4 rounding, "
                                          "but train.method full trains no adapter"):
        validate_params(params)
    params["train"]["quantization_aware"] = None  # nothing was rounded: the merged model is the unrounded one
    validate_params(params)
    params["export"]["float_weights"] = "rounded"
    with pytest.raises(ConfigError, match="export.float_weights"):
        validate_params(params)
