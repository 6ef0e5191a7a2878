"""Which model architectures slmops trains and exports, and why the others are refused.

One table, read by the start-up check (refuse in the first seconds, before any training) and by the
docs' support matrix; tests/test_family_matrix.py proves every "supported" row end to end and every
refusal's exact text. Keys are the ``architectures[0]`` a model's config.json names.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Family:
    architecture: str  # config.json architectures[0]
    name: str  # what a user calls it
    # Why slmops refuses this architecture as a base model (None: it trains, exports and runs).
    refused: str | None = None
    # train.method (or "quantization_aware" / "adapters:separate") -> why that cannot work with this family.
    refused_methods: dict[str, str] = field(default_factory=dict)


# Filled from what the family matrix proves; an architecture missing here is refused by name.
FAMILIES: dict[str, Family] = {f.architecture: f for f in (
    Family("LlamaForCausalLM", "Llama"),
    Family("MistralForCausalLM", "Mistral"),
    Family("Qwen2ForCausalLM", "Qwen2"),
    Family("Qwen3ForCausalLM", "Qwen3"),
    Family("Phi3ForCausalLM", "Phi-3"),
    Family("GraniteForCausalLM", "Granite"),
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
