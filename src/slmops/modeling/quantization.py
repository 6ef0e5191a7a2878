"""Int4 weight quantization exactly as onnxruntime's MatMulNBits (symmetric, blockwise RTN) does it.

Used to train quantization-aware: the adapter learns against the very weights the int4 target
will hold, so exporting to int4 loses nothing of the fine-tuning (see the README).
"""

from __future__ import annotations

from typing import Any


def fake_quantize(weight: Any, block_size: int) -> Any:
    """Round a Linear weight [out, in] onto the int4 grid, blockwise along ``in``; gradients pass straight through.

    MatMulNBits symmetric int4: per block, scale = (signed value of largest magnitude) / -8 and
    q = clamp(round(w / scale) + 8, 0, 15), dequantized as (q - 8) * scale.
    """
    import torch

    out_features, in_features = weight.shape
    padded = -in_features % block_size
    blocks = torch.nn.functional.pad(weight, (0, padded)).reshape(out_features, -1, block_size)
    index = blocks.abs().argmax(dim=-1, keepdim=True)
    scale = torch.gather(blocks, -1, index) / -8.0
    safe_scale = torch.where(scale == 0, torch.ones_like(scale), scale)
    codes = torch.clamp(torch.round(blocks / safe_scale) + 8.0, 0.0, 15.0)
    dequantized = ((codes - 8.0) * scale).reshape(out_features, -1)[:, :in_features]
    return weight + (dequantized - weight).detach()
