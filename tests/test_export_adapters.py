"""export.adapters: separate: one ONNX base with LoRA inputs, each PEFT adapter its own .onnx_adapter."""

from __future__ import annotations

import json

import pytest
import torch
from helpers.onnx_export import EVAL_METRICS, EXPORT, PROMPTS, build, peft_model, rows_with_pytorch_predictions, saved

from slmops.errors import InputDataError
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.genai import GenaiModel
from slmops.modeling.generation import generate_greedy
from slmops.modeling.onnx_adapters import check_onnx_adapter, read_lora_inputs
from slmops.modeling.quantization import round_to_int4_grid
from slmops.pipelines.evaluate_onnx.nodes import measure_onnx_model

SEPARATE = {**EXPORT, "adapters": "separate", "extra_adapters": ["other"],
            "target_options": {**EXPORT["target_options"],
                               # fp32 activations: the int4 base then computes exactly x @ Q(W)
                               "cpu-int4": {"precision": "int4", "execution_provider": "cpu", "accuracy_level": 1}}}


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_model_dir, smollm2_tokenizer):
    """A tiny base on the int4 grid, two adapters of different rank (one as an extra adapter), their merges."""
    from transformers import AutoModelForCausalLM

    root = tmp_path_factory.mktemp("adapters")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.weight.data = round_to_int4_grid(module.weight.data, 32)
    model.save_pretrained(root / "base")
    smollm2_tokenizer.save_pretrained(root / "base")
    folders = {"tuned": root / "tuned", "other": root / "extra" / "other"}
    for (name, folder), (seed, rank) in zip(folders.items(), [(1, 4), (2, 8)]):
        peft = peft_model(root / "base", seed, rank)
        peft.save_pretrained(folder)
        peft.merge_and_unload().save_pretrained(root / f"merged-{name}")
        smollm2_tokenizer.save_pretrained(root / f"merged-{name}")
    separate = saved(tmp_path_factory, build(root / "base", "cpu-fp32", SEPARATE, folders["tuned"], root / "extra"),
                     "cpu-fp32")
    return root, folders, separate


def _generate(folder, tokenizer, adapter=None):
    return GenaiModel(folder, tokenizer, adapter=adapter).generate(PROMPTS, max_new_tokens=6)


def test_each_adapter_is_its_own_file_on_one_base(setup):
    _, _, separate = setup
    assert sorted(p.name for p in (separate / "adapters").glob("*.onnx_adapter")) == ["other.onnx_adapter",
                                                                                     "tuned.onnx_adapter"]
    inputs = read_lora_inputs(separate)
    assert inputs and all("lora_rank" in spec["shape"] for spec in inputs.values())
    assert "--adapter tuned" in (separate / "README.md").read_text()


def test_switching_adapters_changes_the_output_and_each_matches_its_merged_export(tmp_path_factory, setup,
                                                                                 smollm2_tokenizer):
    root, _, separate = setup
    outputs = {name: _generate(separate, smollm2_tokenizer, name) for name in ("tuned", "other")}
    assert outputs["tuned"] != outputs["other"]
    assert _generate(separate, smollm2_tokenizer) != outputs["tuned"]  # no adapter: the base
    for name, output in outputs.items():
        merged = saved(tmp_path_factory, build(root / f"merged-{name}", "cpu-fp32"), f"merged-{name}")
        assert _generate(merged, smollm2_tokenizer) == output, name


def test_an_int4_base_with_a_float_adapter_computes_what_was_trained(tmp_path_factory, setup, smollm2_tokenizer):
    """x @ Q(W) + x @ BA: the PEFT model on the int4-grid base is the reference."""
    root, folders, _ = setup
    int4 = saved(tmp_path_factory, build(root / "base", "cpu-int4", SEPARATE, folders["tuned"], root / "extra"),
                 "cpu-int4")
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    peft = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(root / "base"), folders["tuned"])
    expected = generate_greedy(ModelBundle(model=peft, tokenizer=smollm2_tokenizer), PROMPTS, 6, batch_size=1)
    assert _generate(int4, smollm2_tokenizer, "tuned") == expected


def test_an_adapter_from_another_base_fails_naming_the_file_and_tensor(tmp_path_factory, setup, smollm2_tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    root, folders, separate = setup
    other_base = tmp_path_factory.mktemp("other-base")
    LlamaForCausalLM(LlamaConfig(vocab_size=len(smollm2_tokenizer), hidden_size=32, intermediate_size=64,
                                 num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
                     ).save_pretrained(other_base)
    peft_model(other_base, 3, 4).save_pretrained(root / "extra" / "foreign")
    with pytest.raises(InputDataError, match=r"extra/foreign/adapter_model.safetensors, field "
                                             r"'base_model.model.model.layers.0.(self_attn|mlp).\w+.lora_A.weight': "
                                             r"adapter does not fit this base: shape"):
        build(root / "base", "cpu-fp32", {**SEPARATE, "extra_adapters": ["foreign"]}, folders["tuned"], root / "extra")
    # An .onnx_adapter file meant for another base fails the same way when it is loaded.
    inputs = read_lora_inputs(separate)
    name = next(iter(inputs))
    wrong = {n: {**spec, "shape": [7 if d != "lora_rank" else d for d in spec["shape"]]} for n, spec in inputs.items()}
    with pytest.raises(InputDataError, match=rf"tuned.onnx_adapter, field '{name}': adapter does not fit this base"):
        check_onnx_adapter(separate / "adapters" / "tuned.onnx_adapter", wrong)
    with pytest.raises(InputDataError, match="missing.onnx_adapter: adapter file not found"):
        GenaiModel(separate, smollm2_tokenizer, adapter="missing")


def test_measure_reports_the_adapters_runtime_cost(setup, smollm2_tokenizer):
    root, _, separate = setup
    bundle = ModelBundle(path=root / "merged-tuned")
    rows, predictions = rows_with_pytorch_predictions(bundle)
    metrics, _ = measure_onnx_model(separate, bundle, rows, predictions, {"max_new_tokens": 4}, SEPARATE,
                                    EVAL_METRICS, "cpu-fp32")
    assert metrics["adapters"] == "separate" and metrics["adapter_size_mb"] > 0
    assert metrics["greedy_agreement"] == 1.0  # the separate adapter answers as the merged PyTorch model
    assert metrics["decode"]["without_adapter"]["tokens_per_second"] > 0
    json.dumps(metrics)
