"""The in-place int4 rounding gives, bit for bit, what the implementation it replaced gave (and onnxruntime's)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from int4_references import onnxruntime_int4, rounding_before

from slmops.modeling import quantization
from slmops.modeling.quantization import quantized_lora_linear, round_to_int4_grid

pytestmark = pytest.mark.fast  # in `make test-fast`


def _bits(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.contiguous().view(torch.int32)  # -0.0 and 0.0 differ here, as they do on disk


def _floats_around(centre: float, ulps: int) -> torch.Tensor:
    """Every float32 within ``ulps`` representable steps of ``centre``."""
    bits = torch.tensor([centre], dtype=torch.float32).view(torch.int32).item()
    steps = torch.arange(-ulps, ulps + 1, dtype=torch.int64) * (1 if centre >= 0 else -1)
    return (bits + steps).to(torch.int32).view(torch.float32)


def test_every_sum_near_a_half_or_a_binade_edge_rounds_as_roundf():
    # In a block [-8, p] the scale is 1, so x = p + 8 is the sum rounded to the int4 grid: every
    # float p within 3000 steps of roundf's ties (x = n + 0.5) and of the binade edges (x = 0, 4, 8).
    centres = [n + 0.5 - 8.0 for n in range(0, 16)] + [-4.0, 1e-30, -1e-30]
    p = torch.cat([_floats_around(c, 3000) for c in centres] + [_floats_around(-8.0, 3000)[3000:],
                                                                 _floats_around(8.0, 3000)[:3001]])
    p = torch.cat([p, torch.empty(100_000).uniform_(-8.0, 8.0, generator=torch.Generator().manual_seed(0))])
    weight = torch.stack([torch.full_like(p, -8.0), p], dim=1)
    assert torch.equal(_bits(round_to_int4_grid(weight, 2)), _bits(rounding_before(weight, 2)))
    assert round_to_int4_grid(weight, 2)[:, 1].unique().numel() == 16  # every code met


def _adversarial(rows: int, in_features: int, block_size: int, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(rows, in_features, generator=generator) * 0.05
    coarse = torch.round(noise * 64) / 64  # exact halves after scaling, |max| == |min| ties
    ties = noise.clone()
    ties[:, 0], ties[:, 1] = 0.08, -0.08  # the first block's +max and -max tie: the negative one wins
    ties[0, :block_size] = 0.0  # an all-zero block
    ties[1, block_size - 1] = -0.0
    steps = (torch.randint(-8, 8, (rows, in_features), generator=generator) * 0.125 + 0.0625)  # all halves
    return [noise, coarse, ties, steps]


@pytest.mark.parametrize(("shape", "block_size"), [((8, 576), 32), ((8, 1536), 32), ((6, 80), 32),
                                                   ((5, 100), 32), ((4, 576), 64), ((3, 40), 16)])
def test_equal_bit_for_bit_to_the_reference_and_to_onnxruntime(shape, block_size):
    for weight in _adversarial(*shape, block_size, seed=sum(shape)):
        expected = rounding_before(weight, block_size)
        ours = round_to_int4_grid(weight, block_size)
        assert torch.equal(_bits(ours), _bits(expected))
        assert np.array_equal(ours.numpy(), onnxruntime_int4(weight.numpy(), block_size))
        scratch = weight.clone()
        assert round_to_int4_grid(scratch, block_size, in_place=True) is scratch
        assert torch.equal(_bits(scratch), _bits(expected))


def test_extreme_magnitudes_round_as_the_rounding_before():
    generator = torch.Generator().manual_seed(3)
    for magnitude in (1e-42, 1e-39, 1e-30, 1e-3, 1e30, 3e38):  # subnormal scales, reciprocals near overflow
        weight = torch.randn(4, 96, generator=generator) * magnitude
        assert torch.equal(_bits(round_to_int4_grid(weight, 32)), _bits(rounding_before(weight, 32)))


def test_in_place_on_a_transposed_or_padded_weight_writes_the_weight_itself():
    generator = torch.Generator().manual_seed(4)
    for weight in (torch.randn(64, 48, generator=generator).t(), torch.randn(6, 80, generator=generator)):
        expected = rounding_before(weight, 32)
        kept = weight.clone()
        assert torch.equal(round_to_int4_grid(weight.clone(), 32), expected)
        assert round_to_int4_grid(weight, 32, in_place=True) is weight
        assert torch.equal(_bits(weight), _bits(expected)) and not torch.equal(weight, kept)


@pytest.mark.parametrize("autocast", [False, True])
def test_the_quantized_lora_layer_computes_and_trains_bit_for_bit_as_before(monkeypatch, autocast):
    def run():
        generator = torch.Generator().manual_seed(5)
        x = torch.randn(2, 3, 96, generator=generator).requires_grad_()
        weight = torch.randn(40, 96, generator=generator) * 0.05
        lora_a = (torch.randn(4, 96, generator=generator) * 0.1).requires_grad_()
        lora_b = (torch.randn(40, 4, generator=generator) * 0.1).requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out = quantized_lora_linear(x, weight, lora_a, lora_b, 2.0, None, 32)
        grads = torch.autograd.grad((out.float() * torch.linspace(-1, 1, 40)).sum(), (x, lora_a, lora_b))
        return [out, *grads]

    ours = run()
    monkeypatch.setattr(quantization, "round_to_int4_grid", lambda weight, block_size, in_place=False:
                        rounding_before(weight, block_size))
    before = run()
    for got, want in zip(ours, before, strict=True):
        assert got.dtype == want.dtype and torch.equal(got, want)
