"""Decode speed: the exported ONNX model (onnxruntime-genai) vs the merged model in transformers fp32.

Same prompts (from the validation set), same number of new tokens, one after the other in one process.
Run after `make run`. Usage: python benchmarks/decode_speed.py [--target cpu-int4] [--prompts 8] [--tokens 64]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from slmops.datasets import JSONLinesDataset  # noqa: E402
from slmops.modeling.bundle import ModelBundle  # noqa: E402
from slmops.modeling.genai import GenaiModel  # noqa: E402
from slmops.pipelines.evaluate_onnx.nodes import compare_decode_speed, folder_size_mb  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default="cpu-int4")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="alternate the two engines this many times")
    args = parser.parse_args()

    merged = ModelBundle(path=ROOT / "data/06_models/merged_model")
    onnx_folder = ROOT / "data/07_model_output/onnx" / args.target
    onnx = GenaiModel(onnx_folder, merged.tokenizer)
    prompts = [e["prompt"] for e in JSONLinesDataset(str(ROOT / "data/05_model_input/validation.jsonl")).load()]
    prompts = prompts[: args.prompts]
    onnx_speed, pytorch_speed = compare_decode_speed(onnx, merged, prompts, args.tokens, rounds=args.rounds)
    print(f"{len(prompts)} prompts x {args.tokens} new tokens, greedy, single stream, {args.rounds} rounds")
    for name, result in (("transformers fp32", pytorch_speed), (f"onnxruntime-genai {args.target}", onnx_speed)):
        print(f"  {name:<30} {result['tokens_per_second']:7.1f} tok/s   first token {result['first_token_ms']:6.1f} ms"
              f"   x{result['tokens_per_second'] / pytorch_speed['tokens_per_second']:.2f}")
    merged_mb = folder_size_mb(ROOT / "data/06_models/merged_model")
    print(f"  size: merged safetensors {merged_mb:.0f} MB, ONNX {args.target} {folder_size_mb(onnx_folder):.0f} MB")


if __name__ == "__main__":
    main()
