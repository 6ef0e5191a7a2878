"""Tiny random-init models of each family the ONNX builder exports, built from configs here (no hub).

Each keeps what makes its family differ (fused projections, rope scaling, sliding windows, norms,
biases, activations) at 2 layers and width 64, with the test tokenizer's vocabulary. The keys are
the variants slmops.modeling.families names; tests/test_family_matrix.py runs them end to end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Shared by every family: small enough to train and export in about a second, int4 blocks of 32 fit.
COMMON = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
          "num_key_value_heads": 2, "max_position_embeddings": 4096, "tie_word_embeddings": True}
HEAD_DIM = 16  # = hidden / heads; given where a family defaults to its own (Gemma: 256)
GEMMA = {"head_dim": HEAD_DIM, "query_pre_attn_scalar": HEAD_DIM}

# variant key -> (transformers config class, its own settings on top of COMMON)
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    # Llama-3 rope scaling and grouped-query attention (4 query heads share 2 KV heads).
    "llama3": ("LlamaConfig", {"max_position_embeddings": 131072, "rope_parameters": {
        "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}),
    "mistral": ("MistralConfig", {"head_dim": HEAD_DIM, "sliding_window": None}),
    "qwen2": ("Qwen2Config", {}),  # q/k/v projections with bias
    "qwen3": ("Qwen3Config", {"head_dim": HEAD_DIM}),  # q/k RMSNorm per head
    # Fused qkv_proj and gate_up_proj; 4k: no rope scaling.
    "phi3": ("Phi3Config", {"original_max_position_embeddings": 4096, "tie_word_embeddings": False}),
    "phi3-longrope": ("Phi3Config", {
        "max_position_embeddings": 131072, "original_max_position_embeddings": 4096, "tie_word_embeddings": False,
        "rope_parameters": {"rope_type": "longrope", "rope_theta": 10000.0,
                            "short_factor": [1.0 + i / 16 for i in range(HEAD_DIM // 2)],
                            "long_factor": [2.0 + i / 4 for i in range(HEAD_DIM // 2)]}}),
    "gemma": ("GemmaConfig", {"head_dim": HEAD_DIM}),
    # A real Gemma-2's window (4096), far wider than any prompt here: the runtime's KV cache must still fit it.
    "gemma2": ("Gemma2Config", {**GEMMA, "sliding_window": 4096}),
    "gemma3": ("Gemma3TextConfig", {**GEMMA, "sliding_window": 512,
                                    "layer_types": ["sliding_attention", "full_attention"]}),
    "granite": ("GraniteConfig", {"embedding_multiplier": 12.0, "logits_scaling": 8.0, "residual_multiplier": 0.22,
                                  "attention_multiplier": 0.0625}),
    "olmo": ("OlmoConfig", {}),  # non-parametric layer norm
    "smollm3": ("SmolLM3Config", {"no_rope_layer_interval": 2}),  # every second layer without rope
    # Partial rotary: the runtime wants the rotary half-width a multiple of 8, so heads of 32 (2 heads).
    "phi2": ("PhiConfig", {"num_attention_heads": 2, "num_key_value_heads": 2, "partial_rotary_factor": 0.5,
                           "tie_word_embeddings": False}),
    "nemotron": ("NemotronConfig", {"num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 32,
                                    "partial_rotary_factor": 0.5}),
}


def family_config(variant: str, tokenizer: Any) -> Any:
    import transformers

    class_name, own = CONFIGS[variant]
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
           "pad_token_id": tokenizer.pad_token_id}
    return getattr(transformers, class_name)(vocab_size=len(tokenizer), **{**COMMON, **ids, **own})


def build_family_model(variant: str, tokenizer: Any, folder: Path, seed: int = 0) -> Path:
    """Save a random-init model of ``variant`` with ``tokenizer`` as an HF folder; return the folder."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config = family_config(variant, tokenizer)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def onnx_token_ids(onnx: Any, prompts: list[str], new_tokens: int) -> list[list[int]]:
    """Greedy new token ids from a GenaiModel (stops at the model's eos, as evaluate_onnx does)."""
    answers = []
    for prompt in prompts:
        ids = onnx.prompt_ids(prompt)
        generator = onnx.generator(ids, new_tokens, exact=False)
        while not generator.is_done():
            generator.generate_next_token()
        answers.append(list(generator.get_sequence(0))[len(ids):])
        del generator
    return answers


def pytorch_token_ids(folder: Path, tokenizer: Any, prompts: list[str], new_tokens: int) -> list[list[int]]:
    """Greedy new token ids from transformers, stopping at the eos of the model's generation_config."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    answers = []
    for prompt in prompts:
        ids = tokenizer(prompt, add_special_tokens=True, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        answers.append(out[0, ids.shape[1]:].tolist())
    return answers
