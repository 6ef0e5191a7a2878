"""Peak memory (RSS) of training with qlora vs lora vs full on the real model, on CPU, side by side.

Each method runs the project's own trainer (`slmops.pipelines.train.run`) for a few steps in a fresh
process, so each peak is that method's alone. Quantization-aware training is off for all three
(qlora cannot combine with it), so they differ only in the method.
Usage: python benchmarks/train_memory.py [--steps 4] [--batch-size 8] [--model data/06_models/base_model]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

METHODS = ("qlora", "lora", "full")


TRAINING_PEAK = [0]


def _vm_hwm_mib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return 0


def _measure_training_peak() -> None:
    """Peak RSS of the training steps alone: reset the high-water mark (Linux) as Trainer.train starts."""
    import transformers

    original = transformers.Trainer.train

    def train(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        try:
            return original(self, *args, **kwargs)
        finally:
            TRAINING_PEAK[0] = _vm_hwm_mib()

    transformers.Trainer.train = train


def child(method: str, args: argparse.Namespace) -> None:
    import yaml

    from slmops.pipelines.train.job import TrainJob
    from slmops.pipelines.train.run import run_training

    _measure_training_peak()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]
    params.update(method=method, max_steps=args.steps, batch_size=args.batch_size, quantization_aware=None,
                  save_steps=10_000, validation_steps=None, early_stopping=None, distributed=None)
    with tempfile.TemporaryDirectory() as work:
        job = TrainJob(base_model=args.model, train_split=args.examples, validation_split=args.examples,
                       params=params, run_folder=f"{work}/run", tensorboard_dir=f"{work}/tb", outputs=f"{work}/out")
        started = time.perf_counter()
        run_training(job)
        seconds = time.perf_counter() - started
        metrics = json.loads(Path(job.metrics_file).read_text())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(json.dumps({"method": method, "peak_rss_mib": round(peak_mib), "training_peak_rss_mib": TRAINING_PEAK[0],
                      "seconds": round(seconds, 1), "precision": metrics["precision"],
                      "trainable_parameters": metrics["trainable_parameters"], "steps": metrics["steps"]}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--model", default="data/06_models/base_model")
    parser.add_argument("--examples", default="data/05_model_input/train.jsonl")
    parser.add_argument("--child", choices=METHODS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args)
        return
    results = []
    for method in METHODS:
        command = [sys.executable, __file__, "--child", method, "--steps", str(args.steps),
                   "--batch-size", str(args.batch_size), "--model", args.model, "--examples", args.examples]
        output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)  # each as it comes: a slow machine may stop the run
    print(f"{args.steps} steps x batch {args.batch_size}, {args.model}, CPU, train.precision as params.yaml sets it, "
          "one process per method")
    print("peak RSS: whole process (load, train, merge, save); training: Trainer.train alone")
    print(f"{'method':<8} {'precision':<9} {'peak RSS':>10} {'training':>10} {'trainable params':>17} {'seconds':>8}")
    for r in results:
        print(f"{r['method']:<8} {r['precision']:<9} {r['peak_rss_mib']:>6} MiB {r['training_peak_rss_mib']:>6} MiB "
              f"{r['trainable_parameters']:>17,} {r['seconds']:>8}")


if __name__ == "__main__":
    main()
