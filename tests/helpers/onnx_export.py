"""The ONNX export setup on the tiny model: the export params, prompts, a built target, PyTorch's predictions."""

from __future__ import annotations

EXPORT = {
    "targets": ["cpu-fp32", "cpu-int4", "cuda-fp16"],
    "target_options": {
        "cpu-fp32": {"precision": "fp32", "execution_provider": "cpu"},
        "cpu-int4": {"precision": "int4", "execution_provider": "cpu", "block_size": 32},
        "cuda-fp16": {"precision": "fp16", "execution_provider": "cuda"},
    },
    "speed": {"prompt_count": 2, "new_tokens": 8},
}
PROMPTS = ["<|im_start|>user\nplay some jazz<|im_end|>\n<|im_start|>assistant\n",
           "<|im_start|>user\nwill it rain tomorrow<|im_end|>\n<|im_start|>assistant\n"]
PYTORCH = {"rouge1": 0.5, "rouge2": 0.0, "rougeL": 0.5, "f1": 0.5, "exact_match": 0.5, "perplexity": 3.0, "seconds": 1.0}
# What the `evaluate` stage wrote: the fine-tuned model's scores and its decode speed (the targets' baseline).
EVAL_METRICS = {"tuned": PYTORCH, "decode": {"prompts": 2, "new_tokens": 8, "tokens_per_second": 12.5,
                                            "first_token_ms": 40.0}}


def build(model_dir, target, export=EXPORT, adapter=None, extra_dir=None):
    """The export node for ``target``: its staging folder (`saved` moves it into place)."""
    from slmops.modeling.bundle import ModelBundle
    from slmops.pipelines.export.nodes import build_onnx_model

    bundle = ModelBundle(path=model_dir)
    return build_onnx_model(bundle, bundle, adapter or model_dir, extra_dir or model_dir, export,
                            {"name_or_path": "tiny-llama"}, {"method": "lora", "quantization_aware": None}, target)


def saved(tmp_path_factory, staging, name):
    from slmops.datasets import StagedFolderDataset

    final = tmp_path_factory.mktemp("onnx") / name
    StagedFolderDataset(str(final)).save(staging)
    return final


def rows_with_pytorch_predictions(bundle):
    """Two PROMPTS rows and PyTorch's greedy answers to them, as the evaluate stage records predictions."""
    from slmops.metrics import normalize_prediction
    from slmops.modeling.generation import generate_greedy

    rows = [{"id": str(i), "prompt": p, "completion": "PlayMusic<|im_end|>", "target": "PlayMusic",
             "label": "PlayMusic", "input": "x"} for i, p in enumerate(PROMPTS)]
    generations = generate_greedy(bundle, PROMPTS, max_new_tokens=4, batch_size=1)
    predictions = [{"id": r["id"], "reference": "PlayMusic", "tuned": normalize_prediction(g)}
                   for r, g in zip(rows, generations)]
    return rows, predictions


def peft_model(base_dir, seed: int, rank: int):
    """A PEFT LoRA model on ``base_dir`` with random (not zero) adapter weights drawn from ``seed``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear", init_lora_weights=False)
    return get_peft_model(model, config)
