"""References for the int4 rounding: onnxruntime's own quantizer, and the torch rounding shipped before."""

from __future__ import annotations

import numpy as np
import torch


def onnxruntime_int4(weight: np.ndarray, block_size: int) -> np.ndarray:
    """onnxruntime's own symmetric int4 quantize, dequantized (the reference); any in_features."""
    from onnxruntime.capi._pybind_state import quantize_matmul_4bits

    out_features, in_features = weight.shape
    blocks = -(-in_features // block_size)
    packed = np.zeros((out_features, blocks, block_size // 2), dtype="uint8")
    zero_points = np.zeros((out_features, (blocks + 1) // 2), dtype="uint8")
    scales = np.zeros((out_features, blocks), dtype=np.float32)
    quantize_matmul_4bits(packed, np.ascontiguousarray(weight.T), scales, zero_points, block_size,
                          out_features, in_features, True)
    codes = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(out_features, blocks, block_size)
    dequantized = (codes.astype(np.float32) - 8.0) * scales[:, :, None]
    return dequantized.reshape(out_features, -1)[:, :in_features]


def rounding_before(weight: torch.Tensor, block_size: int) -> torch.Tensor:
    """The rounding as shipped before (torch.round, its ties fixed to roundf), verified against onnxruntime."""
    out_features, in_features = weight.shape
    padded = -in_features % block_size
    if padded:
        weight = torch.nn.functional.pad(weight, (0, padded))
    blocks = weight.reshape(out_features, -1, block_size)
    high = blocks.amax(dim=-1, keepdim=True)
    low = blocks.amin(dim=-1, keepdim=True)
    scale = torch.where(high.abs() > low.abs(), high, low).div_(-8.0)
    reciprocal = torch.where(scale == 0, torch.zeros_like(scale), scale.reciprocal())
    shifted = torch.mul(blocks, reciprocal).add_(8.0)
    codes = torch.round(shifted)
    codes.add_(shifted.sub_(codes).eq_(0.5))
    codes.clamp_(0.0, 15.0).sub_(8.0).mul_(scale)
    return codes.reshape(out_features, -1)[:, :in_features]


def count_roundings(monkeypatch) -> list[int]:
    """A list that grows by one at every call of ``round_to_int4_grid`` (which still rounds)."""
    from slmops.modeling import quantization

    calls: list[int] = []
    rounding = quantization.round_to_int4_grid
    monkeypatch.setattr(quantization, "round_to_int4_grid", lambda *a, **k: calls.append(1) or rounding(*a, **k))
    return calls
