"""The evaluate_onnx stage's node, run on already exported targets once per export.runtime.threads setting.

What it measures per target and setting: the node's wall time (validation answers + speed timing, as in `dvc repro`),
decode tokens/s, macro-F1, and greedy agreement with the PyTorch predictions of the same run; settings alternate
target by target, so each pair sees about the same load. Reads a finished project (default: this checkout):
    python benchmarks/evaluate_onnx_threads.py [--project DIR] [--targets cpu-int4,cpu-int8,cpu-fp32]
        [--threads default,auto] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import yaml  # noqa: E402

from slmops.config import RuntimeParams, parse  # noqa: E402
from slmops.modeling.bundle import ModelBundle  # noqa: E402
from slmops.pipelines.evaluate_onnx.nodes import measure_onnx_model  # noqa: E402


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=Path, default=ROOT)
    parser.add_argument("--targets", default="cpu-int4,cpu-int8,cpu-fp32")
    parser.add_argument("--threads", default="default,auto")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    project = args.project
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    settings = [parse(RuntimeParams, {"threads": t}, "--threads").threads for t in args.threads.split(",")]
    bundle = ModelBundle(path=project / "data/06_models/merged_model")
    validation = jsonl(project / "data/05_model_input/validation.jsonl")
    predictions = jsonl(project / "data/07_model_output/predictions.jsonl")
    eval_metrics = json.loads((project / "reports/metrics/eval.json").read_text(encoding="utf-8"))
    # A project from before `evaluate` timed PyTorch's decode has no baseline: no speedup is computed then.
    eval_metrics.setdefault("decode", {"tokens_per_second": float("nan"), "first_token_ms": float("nan")})
    print(f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    print(f"{'target':<10}{'threads':>9}{'node s':>8}{'answers s':>10}{'decode tok/s':>13}{'first ms':>9}"
          f"{'F1':>7}{'agree':>9}{'load':>6}", flush=True)
    for number in range(args.rounds):
        for target in args.targets.split(","):
            for threads in settings if number % 2 == 0 else settings[::-1]:
                export = {**params["export"], "runtime": {"threads": threads}}
                started = time.perf_counter()
                metrics, _ = measure_onnx_model(project / "data/07_model_output/onnx" / target, bundle, validation,
                                                predictions, params["evaluate"], export, eval_metrics, target)
                seconds = time.perf_counter() - started
                decode, onnx = metrics["decode"], metrics["quality"]["onnx"]
                agree = f"{round(metrics['greedy_agreement'] * metrics['rows'])}/{metrics['rows']}"
                print(f"{target:<10}{threads!s:>9}{seconds:>8.1f}{onnx['seconds']:>10.1f}"
                      f"{decode['onnx_tokens_per_second']:>13.1f}{decode['onnx_first_token_ms']:>9.1f}"
                      f"{onnx['f1']:>7.4f}{agree:>9}{os.getloadavg()[0]:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
