"""The fast int4 rounding is onnxruntime's bit for bit; the low-rank quantized LoRA layer trains as autograd would."""

from __future__ import annotations

import numpy as np
import pytest
from int4_references import count_roundings, onnxruntime_int4

from slmops.modeling.quantization import fake_quantize, quantized_lora_linear, round_to_int4_grid

pytestmark = pytest.mark.fast  # in `make test-fast`


@pytest.mark.parametrize(("shape", "block_size"), [((192, 576), 32), ((96, 1536), 32), ((64, 80), 32),
                                                   ((48, 256), 16), ((40, 256), 64), ((24, 384), 128)])
def test_rounding_is_onnxruntimes_bit_for_bit(shape, block_size):
    import torch

    generator = torch.Generator().manual_seed(sum(shape) + block_size)
    weight = torch.randn(*shape, generator=generator) * 0.05
    on_a_grid = torch.round(weight * 64) / 64  # coarse values: many exact halves and |max| == |min| ties
    on_a_grid[0, :block_size] = 0.0  # an all-zero block
    for candidate in (weight, on_a_grid):
        ours = round_to_int4_grid(candidate.clone(), block_size)
        assert np.array_equal(ours.numpy(), onnxruntime_int4(candidate.numpy(), block_size))
    assert torch.equal(round_to_int4_grid(ours, block_size), ours)  # the grid is a fixed point


def test_rounding_leaves_its_input_alone():
    import torch

    weight = torch.randn(16, 64)
    kept = weight.clone()
    round_to_int4_grid(weight, 32)
    assert torch.equal(weight, kept)


def _layer(seed: int, bias: bool = True):
    import torch

    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(48, 64, generator=generator) * 0.05
    lora_a = (torch.randn(4, 64, generator=generator) * 0.1).requires_grad_()
    lora_b = (torch.randn(48, 4, generator=generator) * 0.1).requires_grad_()
    bias_ = (torch.randn(48, generator=generator) * 0.1).requires_grad_() if bias else None
    x = torch.randn(3, 5, 64, generator=generator).requires_grad_()
    return x, weight, lora_a, lora_b, bias_


def _reference(x, weight, lora_a, lora_b, scaling, bias):
    import torch

    return torch.nn.functional.linear(x, fake_quantize(weight + (lora_b @ lora_a) * scaling, 32), bias)


@pytest.mark.parametrize("bias", [True, False])
def test_low_rank_backward_gives_the_straight_through_gradients(bias):
    import torch

    x, weight, lora_a, lora_b, bias_ = _layer(0, bias)
    upstream = torch.randn(3, 5, 48)
    ours = quantized_lora_linear(x, weight, lora_a, lora_b, 2.0, bias_, 32)
    leaves = [t for t in (x, lora_a, lora_b, bias_) if t is not None]
    ours_grads = torch.autograd.grad((ours * upstream).sum(), leaves)
    reference = _reference(x, weight, lora_a, lora_b, 2.0, bias_)
    reference_grads = torch.autograd.grad((reference * upstream).sum(), leaves)
    assert torch.equal(ours, reference)  # same merge, same rounding, same matmul
    for got, want in zip(ours_grads, reference_grads):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-5)
    assert lora_b.grad is None and weight.grad is None  # nothing leaks onto the frozen weight


def test_under_bf16_autocast_the_grid_stays_fp32_and_gradients_stay_close():
    import torch

    x, weight, lora_a, lora_b, bias_ = _layer(1)
    upstream = torch.randn(3, 5, 48)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = quantized_lora_linear(x, weight, lora_a, lora_b, 2.0, bias_, 32)
    assert ours.dtype == torch.bfloat16
    grads = torch.autograd.grad((ours.float() * upstream).sum(), (x, lora_a, lora_b))
    assert [g.dtype for g in grads] == [torch.float32] * 3  # fp32 parameters get fp32 gradients
    grid = round_to_int4_grid(weight + (lora_b @ lora_a).detach() * 2.0, 32)
    expected = torch.nn.functional.linear(x.bfloat16(), grid.bfloat16(), bias_.bfloat16())
    assert torch.equal(ours, expected)  # rounded in fp32 first, only then cast
    reference = _reference(x, weight, lora_a, lora_b, 2.0, bias_)
    reference_grads = torch.autograd.grad((reference * upstream).sum(), (x, lora_a, lora_b))
    for got, want in zip(grads, reference_grads):
        assert torch.allclose(got, want, rtol=0.05, atol=0.02 * float(want.abs().max()))


def test_a_rounding_is_reused_within_a_step_and_never_across_steps(monkeypatch):
    import torch

    from slmops.modeling.quantization import RoundedWeightCache

    calls = count_roundings(monkeypatch)
    x, weight, lora_a, lora_b, bias_ = _layer(2)
    cache = RoundedWeightCache()
    optimizer = torch.optim.AdamW([lora_a, lora_b], lr=0.05)
    for _ in range(2):  # two steps, each running the layer twice (as the shared prefix does)
        cache.open()
        outputs = [quantized_lora_linear(x, weight, lora_a, lora_b, 2.0, bias_, 32, cache) for _ in range(2)]
        sum(out.square().sum() for out in outputs).backward()
        cache.close()
        assert torch.equal(outputs[0], outputs[1])
        assert torch.equal(outputs[0], quantized_lora_linear(x, weight, lora_a, lora_b, 2.0, bias_, 32))
        optimizer.step()
        optimizer.zero_grad()
    assert len(calls) == 4  # per step: once through the cache, once uncached for comparison
    calls.clear()
    for _ in range(2):  # outside a step nothing is kept
        quantized_lora_linear(x, weight, lora_a, lora_b, 2.0, bias_, 32, cache)
    assert len(calls) == 2
    cache.open()
    quantized_lora_linear(x, weight, lora_a, lora_b, 2.0, bias_, 32, cache)
    with torch.no_grad():
        weight.add_(0.01)  # an in-place change within a step: rounded anew
    assert torch.equal(quantized_lora_linear(x, weight, lora_a, lora_b, 2.0, bias_, 32, cache),
                       quantized_lora_linear(x, weight, lora_a, lora_b, 2.0, bias_, 32))
