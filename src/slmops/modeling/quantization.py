"""Int4 weight quantization exactly as onnxruntime's MatMulNBits (symmetric, blockwise RTN) does it.

Used to train quantization-aware: the adapter learns against the very weights the int4 target
will hold, so exporting to int4 loses nothing of the fine-tuning (docs/training.md).
"""

from __future__ import annotations

from typing import Any

import torch


def round_to_int4_grid(weight: torch.Tensor, block_size: int, *, in_place: bool = False) -> torch.Tensor:
    """Quantize-dequantize a Linear weight [out, in] blockwise along ``in`` (no autograd).

    Bit for bit what onnxruntime's blockwise quantizer (MLAS, symmetric) computes: per block,
    scale = (the signed value of largest magnitude, the negative one on a tie) / -8,
    q = clamp(roundf(w * (1 / scale) + 8), 0, 15), dequantized as (q - 8) * scale.
    Multiplying by the reciprocal (not dividing), adding 8 as a rounding of its own (no fused
    multiply-add) and rounding halves away from zero (C's roundf) are what make it exact.
    With ``in_place`` the result is written into ``weight`` (returned), sparing a copy: the
    train step rounds every adapted weight at every step, so it runs as few in-place passes.
    """
    out_features, in_features = weight.shape
    padded = -in_features % block_size
    if in_place and not padded and weight.is_contiguous():
        work = weight
    elif padded:
        work = torch.nn.functional.pad(weight, (0, padded))
    else:
        work = weight.clone(memory_format=torch.contiguous_format)
    _round_blocks_in_place(work.view(out_features, -1, block_size))
    rounded = work[:, :in_features] if padded else work
    return weight.copy_(rounded) if in_place and rounded is not weight else rounded


def _round_blocks_in_place(blocks: torch.Tensor) -> None:
    """Replace each block [.., block_size] of ``blocks`` by its int4 round trip.

    roundf(x) - 8 is computed as floor(x - 7.5), equal for every x = p + 8 (p = w * (1 / scale),
    both rounded to float) this can meet: on [0, 8) x is a multiple of 2^-21 (x < 4 only when
    p < -4, where p + 8 is exact), on [8, 16) of 2^-20, so x - 7.5 is exact there and
    floor(x - 7.5) = floor(x + 0.5) - 8; any x below 0 or from 16 up meets the same clamp both ways.
    That is two passes where torch.round (halves to even) needs four to fix its ties.
    """
    high = blocks.amax(dim=-1, keepdim=True)  # amax + amin: torch.aminmax is ten times slower here
    low = blocks.amin(dim=-1, keepdim=True)
    scale = torch.where(high.abs() > low.abs(), high, low).div_(-8.0)
    reciprocal = torch.where(scale == 0, torch.zeros_like(scale), scale.reciprocal())
    blocks.mul_(reciprocal).add_(8.0)  # two roundings, as MLAS does them
    blocks.sub_(7.5).floor_().clamp_(-8.0, 7.0).mul_(scale)


def round_weights_in_place(linears: list[Any], block_size: int) -> None:
    """Put each Linear layer's weight onto the int4 grid (a weight tied to an embedding takes it along)."""
    with torch.no_grad():
        for module in linears:
            rounded = round_to_int4_grid(module.weight.float(), block_size)
            module.weight.copy_(rounded.to(module.weight.dtype))


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


class RoundedWeightCache:
    """One layer's rounded merged weight, kept for the forward calls of one train step.

    A step runs the model twice with the same weights (the batch's shared prefix, then its rows)
    and, with activation checkpointing, again in backward: each would merge and round all adapted
    weights anew. The cache holds a value only between ``open()`` and ``close()``, which the trainer
    calls around each step (``reusing_rounded_weights``), so no value outlives the weights it was
    computed from, even where FSDP or ZeRO-3 re-gather parameters into reused memory between steps.
    Within a step the key (each tensor's storage and version counter) still guards against any
    in-place change.
    """

    def __init__(self) -> None:
        self._open = False
        self._key: tuple[Any, ...] | None = None
        self._value: torch.Tensor | None = None

    def open(self) -> None:
        self._open = True

    def close(self) -> None:
        self._open, self._key, self._value = False, None, None

    def get(self, key: tuple[Any, ...]) -> torch.Tensor | None:
        return self._value if self._open and key == self._key else None

    def put(self, key: tuple[Any, ...], value: torch.Tensor) -> None:
        if self._open:
            self._key, self._value = key, value


class _QuantizedLoraLinear(torch.autograd.Function):
    """y = x @ Q(W + s B A)^T with straight-through gradients, computed without any [out, in] gradient.

    Through autograd, the straight-through gradient of the merged weight is G = g^T x, a full
    [out, in] product as costly as the forward matmul, then reduced to dB = s G A^T and dA = s B^T G.
    The same values come from low-rank products: dB = s g^T (x A^T), dA = s (g B)^T x.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, lora_a: torch.Tensor, lora_b: torch.Tensor,
                scaling: float, bias: torch.Tensor | None, block_size: int,
                cache: RoundedWeightCache | None) -> torch.Tensor:
        device = x.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype
        with torch.autocast(device, enabled=False):  # the merge and the rounding in the weights' fp32
            key = (dtype, scaling, block_size, *((t.data_ptr(), t._version) for t in (weight, lora_a, lora_b)))
            quantized = cache.get(key) if cache is not None else None
            if quantized is None:
                with torch.no_grad():
                    merged = torch.mm(lora_b, lora_a).mul_(scaling).add_(weight)  # as PEFT's merge: W + (B A) s
                    quantized = round_to_int4_grid(merged, block_size, in_place=True).to(dtype)  # only then cast
                if cache is not None:
                    cache.put(key, quantized)
            inputs = x.to(dtype)
            out = torch.nn.functional.linear(inputs, quantized, None if bias is None else bias.to(dtype))
        ctx.save_for_backward(inputs, quantized, lora_a, lora_b)
        ctx.scaling, ctx.input_dtype, ctx.has_bias = scaling, x.dtype, bias is not None and bias.requires_grad
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        inputs, quantized, lora_a, lora_b = ctx.saved_tensors
        grad = grad.to(quantized.dtype)
        grad_x = grad @ quantized if ctx.needs_input_grad[0] else None
        flat_grad = grad.reshape(-1, grad.shape[-1]).to(lora_a.dtype)  # the small products in fp32
        flat_x = inputs.reshape(-1, inputs.shape[-1]).to(lora_a.dtype)
        grad_b = flat_grad.t() @ (flat_x @ lora_a.t()) * ctx.scaling if ctx.needs_input_grad[3] else None
        grad_a = (flat_grad @ lora_b).t() @ flat_x * ctx.scaling if ctx.needs_input_grad[2] else None
        grad_bias = flat_grad.sum(0) if ctx.has_bias else None
        return (None if grad_x is None else grad_x.to(ctx.input_dtype)), None, grad_a, grad_b, None, grad_bias, None, None


def quantized_lora_linear(x: torch.Tensor, weight: torch.Tensor, lora_a: torch.Tensor, lora_b: torch.Tensor,
                          scaling: float, bias: torch.Tensor | None, block_size: int,
                          cache: RoundedWeightCache | None = None) -> torch.Tensor:
    """A LoRA layer as the int4 target computes it: x @ Q(W + scaling * B A)^T (+ bias).

    Same forward values and gradients (to float rounding) as
    ``linear(x, fake_quantize(W + (B @ A) * scaling, block_size), bias)``, at the cost of plain
    LoRA plus the rounding. Under autocast the matmuls run in the autocast dtype; the merge and the
    rounding stay in the weights' fp32, so the grid is the int4 target's. With a ``cache``, the
    rounded weight is reused while the cache is open (one train step) and its tensors are unchanged.
    """
    return _QuantizedLoraLinear.apply(x, weight, lora_a, lora_b, scaling, bias, block_size, cache)
