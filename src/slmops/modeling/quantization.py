"""Int4 weight quantization exactly as onnxruntime's MatMulNBits (symmetric, blockwise RTN) does it.

Used to train quantization-aware: the adapter learns against the very weights the int4 target
will hold, so exporting to int4 loses nothing of the fine-tuning (see the README).
"""

from __future__ import annotations

from typing import Any

import torch


def round_to_int4_grid(weight: torch.Tensor, block_size: int) -> torch.Tensor:
    """Quantize-dequantize a Linear weight [out, in] blockwise along ``in`` (no autograd).

    MatMulNBits symmetric int4: per block, scale = (signed value of largest magnitude) / -8 and
    q = clamp(round(w / scale) + 8, 0, 15), dequantized as (q - 8) * scale.
    """
    out_features, in_features = weight.shape
    padded = -in_features % block_size
    if padded:
        weight = torch.nn.functional.pad(weight, (0, padded))
    blocks = weight.reshape(out_features, -1, block_size)
    scale = torch.gather(blocks, -1, blocks.abs().argmax(dim=-1, keepdim=True)).div_(-8.0)
    safe_scale = torch.where(scale == 0, torch.ones_like(scale), scale)
    codes = torch.div(blocks, safe_scale).round_().clamp_(-8.0, 7.0)  # q - 8, in [-8, 7]
    return codes.mul_(scale).reshape(out_features, -1)[:, :in_features]


class _StraightThroughInt4(torch.autograd.Function):
    """Forward: the int4-rounded weight. Backward: the gradient as if no rounding happened."""

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, block_size: int) -> torch.Tensor:
        return round_to_int4_grid(weight, block_size)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


def fake_quantize(weight: torch.Tensor, block_size: int) -> torch.Tensor:
    """The int4 target's view of ``weight``, with straight-through gradients for training."""
    return _StraightThroughInt4.apply(weight, block_size)
