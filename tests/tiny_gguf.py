"""A tiny random model written as a GGUF file, as llama.cpp's converter lays one out (no hub, no llama.cpp).

The vocabulary, merges and chat template are the embedded SmolLM2 GGUF's; the weights are the tiny HF model's,
in float32, with llama.cpp's tensor names and its row order for Llama's q/k projections (transformers undoes it
on load), so loading the file gives back the tiny model exactly.
"""

from __future__ import annotations

from pathlib import Path

# HF parameter name (after "model.layers.N.") -> GGUF tensor name (after "blk.N.").
_LAYER = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
          "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
          "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}
_TOP = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight"}


def _gguf_name(name: str) -> str:
    if name in _TOP:
        return _TOP[name]
    _, _, index, rest = name.split(".", 3)  # model.layers.N.<module>.<weight|bias>
    module, kind = rest.rsplit(".", 1)
    return f"blk.{index}.{_LAYER[module]}.{kind}"


def _permuted(weight, heads: int):  # noqa: ANN001, ANN202 - numpy arrays
    """llama.cpp's row order for Llama's q/k weights (interleaved rotary halves)."""
    return weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(
        weight.shape)


def write_tiny_gguf(model_dir: Path, embedded_gguf: Path, out: Path) -> Path:
    """Write ``model_dir`` (a tiny LlamaForCausalLM folder) as ``out``, a float32 GGUF of architecture llama."""
    import gguf
    from safetensors.numpy import load_file
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    reader = gguf.GGUFReader(str(embedded_gguf))
    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_name("tiny-llama")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
    writer.add_rope_freq_base(float(config.rope_parameters["rope_theta"]))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    for key, field in reader.fields.items():  # the tokenizer exactly as the embedded model ships it
        if key.startswith("tokenizer."):
            value = field.contents()
            kind = field.types[0]
            sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(key, value, kind, sub_type=sub)
    weights = load_file(str(Path(model_dir) / "model.safetensors"))
    for name, weight in sorted(weights.items()):
        if name.endswith(("q_proj.weight", "k_proj.weight")):
            heads = config.num_attention_heads if "q_proj" in name else config.num_key_value_heads
            weight = _permuted(weight, heads)
        writer.add_tensor(_gguf_name(name), weight.astype("float32"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
