"""Which model architectures slmops trains and exports, and why the others are refused.

One table, read by the start-up check (refuse in the first seconds, before any training) and by the
docs' support matrix; tests/test_family_matrix.py proves every "supported" row end to end and every
refusal's exact text. Keys are the ``architectures[0]`` a model's config.json names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Family:
    architecture: str  # config.json architectures[0]
    name: str  # what a user calls it
    # Why slmops refuses this architecture as a base model (None: it trains, exports and runs).
    refused: str | None = None
    # train.method (or "quantization_aware" / "adapters:separate") -> why that cannot work with this family.
    refused_methods: dict[str, str] = field(default_factory=dict)
    # export target name (e.g. "cuda-fp16") -> why this family cannot be exported or run there.
    refused_targets: dict[str, str] = field(default_factory=dict)
    # The configurations the family matrix builds (tests/family_models.py keys) -> what each one exercises.
    variants: dict[str, str] = field(default_factory=dict)
    # What slmops does so the pinned builder/runtime handle it (docs; each is proven by the matrix).
    fixes: str = ""


@dataclass(frozen=True)
class Cell:
    """One column of the matrix: a training setup and the target its export is compared on, token for token."""

    column: str  # as the docs show it
    target: str  # export target (tests/test_family_matrix.py defines its options)
    train: dict[str, Any]  # train params for this column
    adapters: str  # export.adapters
    asks: tuple[str, ...]  # what the start-up check asks method_refusal about
    proof: str  # what the matrix asserts (docs)


QAT = {"block_size": 32}
CELLS: tuple[Cell, ...] = (
    Cell("LoRA, quantization-aware", "cpu-int4", {"method": "lora", "quantization_aware": QAT}, "merged",
         ("lora", "quantization_aware"), "int4 export = PyTorch merged model (weights on the int4 grid)"),
    Cell("LoRA", "cpu-fp32", {"method": "lora", "quantization_aware": None}, "merged", ("lora",),
         "fp32 export = PyTorch merged model"),
    Cell("DoRA", "cpu-fp32", {"method": "dora"}, "merged", ("dora",), "fp32 export = PyTorch merged model"),
    # LoRA on the int4-grid base (quantization_aware target base): one training serves this column and the next.
    Cell("LoRA, int4-grid base", "cpu-fp32", {"method": "lora", "quantization_aware": {**QAT, "target": "base"}},
         "merged", ("lora", "quantization_aware"), "fp32 export = PyTorch merged model"),
    Cell("LoRA, int4-grid base, separate .onnx_adapter", "cpu-int4", {"method": "lora", "quantization_aware": {**QAT, "target": "base"}},
         "separate", ("lora", "quantization_aware", "adapters:separate"),
         "int4 base + adapter = PyTorch (int4-grid base + float adapter) = the merged fp32 export"),
)
NORM_EPS = "config.json: the LayerNorm epsilon given to the builder as rms_norm_eps (it read 1e-6 instead)"

# Filled from what the family matrix proves; an architecture missing here is refused by name.
FAMILIES: dict[str, Family] = {f.architecture: f for f in (
    Family("LlamaForCausalLM", "Llama", variants={"llama3": "Llama-3 rope scaling (llama3), grouped-query attention"}),
    Family("MistralForCausalLM", "Mistral", variants={"mistral": "grouped-query attention"}),
    Family("Qwen2ForCausalLM", "Qwen2", variants={"qwen2": "q/k/v projections with bias"}),
    Family("Qwen3ForCausalLM", "Qwen3", variants={"qwen3": "q/k RMSNorm per head"}),
    Family("Phi3ForCausalLM", "Phi-3", variants={"phi3": "4k: fused qkv_proj and gate_up_proj",
                                                "phi3-longrope": "LongRoPE 128k (short/long factors)"},
           fixes="LongRoPE: config.json gives the builder rope_parameters.type (it reads the pre-v5 key)"),
    Family("GemmaForCausalLM", "Gemma", variants={"gemma": "GeGLU, (1 + weight) RMSNorm, scaled embeddings"}),
    Family("Gemma2ForCausalLM", "Gemma 2", variants={"gemma2": "sliding window 4096, logit soft-capping"},
           fixes="generation searches at least the sliding window's length (the runtime's KV cache must hold it)"),
    Family("Gemma3ForCausalLM", "Gemma 3 (text)", variants={"gemma3": "sliding + global layers, q/k norm, local rope"},
           fixes="builder reads the global rope and local theta from transformers 5's per-layer-type layout; "
                 "generation searches at least the sliding window's length"),
    Family("GraniteForCausalLM", "Granite", variants={"granite": "embedding/residual/attention/logit multipliers"}),
    Family("OlmoForCausalLM", "OLMo", variants={"olmo": "non-parametric LayerNorm"},
           fixes="config.json: OLMo's fixed LayerNorm epsilon (1e-5) given to the builder (it used 1e-6)"),
    Family("SmolLM3ForCausalLM", "SmolLM3", variants={"smollm3": "layers without rope (no_rope_layers)"},
           fixes="builder: a layer without rope gets no rotary node (it failed with KeyError 'position_ids')"),
    Family("PhiForCausalLM", "Phi-2", variants={"phi2": "partial rotary, parallel attention/MLP, LayerNorm"},
           fixes=NORM_EPS),
    Family("NemotronForCausalLM", "Nemotron", variants={"nemotron": "LayerNorm1P, squared-ReLU MLP, partial rotary"},
           fixes=NORM_EPS),
)}


def family_of(architecture: str) -> Family | None:
    return FAMILIES.get(architecture)


def architecture_refusal(architecture: str | None) -> str | None:
    """Why a base model of this architecture cannot go through the pipeline (None: it can)."""
    if not architecture:
        return "its config.json names no architecture ('architectures' is missing)"
    family = FAMILIES.get(architecture)
    if family is None:
        known = ", ".join(sorted(f.name for f in FAMILIES.values() if f.refused is None))
        return (f"architecture {architecture} is not one slmops exports with the onnxruntime-genai builder "
                f"(supported: {known})")
    return family.refused


def method_refusal(architecture: str, method: str) -> str | None:
    """Why ``method`` (a train.method, "quantization_aware" or "adapters:separate") cannot work here."""
    family = FAMILIES.get(architecture)
    return family.refused_methods.get(method) if family else None


def target_refusal(architecture: str, target: str) -> str | None:
    """Why this family cannot be exported to or run on ``target`` (an export.targets name; None: it can)."""
    family = FAMILIES.get(architecture)
    return family.refused_targets.get(target) if family else None


def cell_refusal(architecture: str, cell: Cell) -> str | None:
    """The first refusal a run of ``cell`` meets at start-up (None: the matrix runs it end to end)."""
    reasons = [architecture_refusal(architecture), *(method_refusal(architecture, ask) for ask in cell.asks),
               target_refusal(architecture, cell.target)]
    return next((reason for reason in reasons if reason), None)
