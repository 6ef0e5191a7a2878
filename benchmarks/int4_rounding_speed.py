"""Time of a quantization-aware step's int4 rounding: the shipped rounding beside the one it replaced.

One step of quantization-aware LoRA on SmolLM2-135M merges and rounds all 210 adapted weights
(30 layers x q, k, v, o, gate, up, down: 106M values) as `_QuantizedLoraLinear.forward` does:
W + (B A) s in fp32, rounded to the int4 grid, cast to the compute dtype (bf16 under autocast) and
kept for the backward. Variants, alternating round by round in one process on the same weights:
  before   the rounding shipped before 2026-11-27 (torch.round with its ties fixed; a copy below)
  shipped  `round_to_int4_grid(merged, in_place=True)` as the layer calls it
  merge    the merge and the cast alone, no rounding (the floor under both)
Printed: seconds per step, wall clock and this process's CPU time (the steadier one on a loaded
machine), median over rounds. Both roundings are checked bit-equal on every weight first.
Usage: python benchmarks/int4_rounding_speed.py [--threads 1] [--rounds 5] [--dtype bf16|fp32]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from int4_references import rounding_before  # noqa: E402  (the rounding shipped before, kept by the tests)
from slmops.modeling.quantization import round_to_int4_grid  # noqa: E402

LAYERS, HIDDEN, KV, INTERMEDIATE, RANK, BLOCK = 30, 576, 192, 1536, 16, 32
SHAPES = [(HIDDEN, HIDDEN), (KV, HIDDEN), (KV, HIDDEN), (HIDDEN, HIDDEN),
          (INTERMEDIATE, HIDDEN), (INTERMEDIATE, HIDDEN), (HIDDEN, INTERMEDIATE)]


def _merge(weight: torch.Tensor, lora_a: torch.Tensor, lora_b: torch.Tensor) -> torch.Tensor:
    return torch.mm(lora_b, lora_a).mul_(2.0).add_(weight)  # alpha 32 / r 16, as params.yaml


VARIANTS = {
    "before": lambda w, a, b, dtype: rounding_before(_merge(w, a, b), BLOCK).to(dtype),
    "shipped": lambda w, a, b, dtype: round_to_int4_grid(_merge(w, a, b), BLOCK, in_place=True).to(dtype),
    "merge": lambda w, a, b, dtype: _merge(w, a, b).to(dtype),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dtype", choices=("bf16", "fp32"), default="bf16")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    generator = torch.Generator().manual_seed(0)
    layers = [(torch.randn(out, inp, generator=generator) * 0.02, torch.randn(RANK, inp, generator=generator) * 0.01,
               torch.randn(out, RANK, generator=generator) * 0.01) for _ in range(LAYERS) for out, inp in SHAPES]
    for weight, lora_a, lora_b in layers:
        before, shipped = (VARIANTS[name](weight, lora_a, lora_b, dtype) for name in ("before", "shipped"))
        if not torch.equal(before.view(torch.int16 if dtype == torch.bfloat16 else torch.int32),
                           shipped.view(torch.int16 if dtype == torch.bfloat16 else torch.int32)):
            sys.exit("the shipped rounding differs from the one it replaced")
    wall: dict[str, list[float]] = {name: [] for name in VARIANTS}
    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    loads = []
    for _ in range(args.rounds):
        for name, variant in VARIANTS.items():
            loads.append(os.getloadavg()[0])
            kept = []  # the layer keeps each rounded weight for its backward: so do we, for the whole step
            started, started_cpu = time.perf_counter(), time.process_time()
            for weight, lora_a, lora_b in layers:
                kept.append(variant(weight, lora_a, lora_b, dtype))
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - started_cpu)
            del kept
    print(f"{len(layers)} weights ({sum(w.numel() for w, _, _ in layers) / 1e6:.0f}M values), {args.threads} "
          f"thread(s), cast to {args.dtype}; 1-minute load {min(loads):.1f} to {max(loads):.1f}; "
          f"seconds per step, median of {args.rounds} alternating rounds (each round in brackets)")
    for name in VARIANTS:
        print(f"  {name:<8} wall {statistics.median(wall[name]):.3f} [{', '.join(f'{x:.2f}' for x in wall[name])}]"
              f"  cpu {statistics.median(cpu[name]):.3f} [{', '.join(f'{x:.2f}' for x in cpu[name])}]")
    ratio = statistics.median(cpu["before"]) / statistics.median(cpu["shipped"])
    print(f"  shipped vs before: {ratio:.2f}x less CPU time per step")


if __name__ == "__main__":
    main()
