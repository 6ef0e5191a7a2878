"""Float targets' weights without quantization-aware training's int4 rounding (`export.float_weights: unrounded`).

Trained with `train.quantization_aware`, the merged model holds Q(W + scale*BA): int4-grid values, which an
fp32/fp16 target would then hold too. Here the same base and adapter are merged plainly, W + scale*BA,
from the original base weights (its tied embedding / LM head unrounded as well).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from slmops.errors import UnsupportedError

WEIGHT_FILES = ("*.safetensors", "*.safetensors.index.json", "*.bin")


def needs_unrounded_merge(float_weights: str, precision: str, adapter_mode: str, train_params: dict[str, Any]) -> bool:
    """Whether this target's weights differ from the merged model's: only a float target, merged adapters,
    an adapter trained quantization-aware with its merge rounded (lora/dora; full keeps no unrounded copy)."""
    aware = train_params.get("quantization_aware")
    return (float_weights == "unrounded" and precision not in ("int4", "int8") and adapter_mode == "merged"
            and aware is not None and train_params.get("method", "lora") in ("lora", "dora"))


def merge_unrounded(base_model: Path, adapter: Path, merged_model: Path, out: Path,
                    trust_remote_code: bool = False) -> Path:
    """Write base + adapter, merged in fp32 without rounding, as an HF folder with the merged model's other files."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    if not (Path(adapter) / "adapter_config.json").is_file():
        raise UnsupportedError(f"export.float_weights: unrounded needs the PEFT adapter in {Path(adapter).name}/ "
                               "(adapter_config.json): train with train.method lora or dora, or set "
                               "export.float_weights: merged_model")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # Tokenizer, chat template and generation config exactly as the merged model ships them.
    for item in Path(merged_model).iterdir():
        if item.is_file() and not any(item.match(pattern) for pattern in WEIGHT_FILES):
            shutil.copy2(item, out / item.name)
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32, use_safetensors=True,
                                                 trust_remote_code=trust_remote_code)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    merged.save_pretrained(out, safe_serialization=True)
    return out
