"""Training throughput on the real model: the train stage's trainer as shipped, beside TRL's SFTTrainer.

Each slmops run is what the `train` stage runs: a `TrainJob` over folder paths (base model folder,
train and validation splits, params, output folders) given to `run_training`, with params.yaml's
`train` section except as a variant says. Every run trains the default task's first
``steps x batch`` training rows for one epoch (SNIPS through the pipeline's own ingest, template and
split nodes), then the model it leaves is scored on the first 64 validation rows by one fp32
function for all: the merged model slmops writes (for quantization-aware runs, its weights on the
int4 grid, as the int4 target computes), TRL's trained model. Every run is its own subprocess (so
peak RSS is its own) on the same base weights and rows; runs alternate variant by variant, round by
round, so machine noise hits all alike.

Variants (same LoRA r16 all-linear, learning rate, schedule, warmup, batch, steps and seed):
  shipped  params.yaml as shipped: quantization-aware LoRA with the speed levers (low-rank
           straight-through gradients, the rounding done once a step, the batch's shared prompt
           prefix computed once without the LM head, train.attention auto: eager on a CPU) and
           train.precision auto (bf16 autocast where the CPU multiplies bf16 natively, else fp32)
  fp32     the same with train.precision: fp32 (what a CPU without AVX512-BF16/AMX gets)
  plain    the same without quantization-aware training (train.quantization_aware: null), to compare
           validation loss with TRL's plain LoRA on the same footing
  before   shipped, with the int4 rounding it shipped before 2026-11-27 patched in (bit-equal results,
           slower: see benchmarks/int4_rounding_speed.py)
  trl      TRL SFTTrainer at its own defaults otherwise (bf16 autocast where available, its collator,
           completion-only loss), plain LoRA
What shipped before the levers (autograd through fake_quantize, whole rows) cannot be reached
through params, so it is not a variant here; docs/benchmarks.md cites its last side-by-side figure.
Usage: python benchmarks/train_throughput.py [--steps 16] [--repeats 3] [--variants shipped,fp32,plain,trl]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

VALIDATION_ROWS = 64
FLOPS_PER_TOKEN = 4 * 134.5e6  # LoRA: forward 2N + input-gradient 2N multiply-adds per token (no weight grads)
VARIANTS = ("shipped", "fp32", "plain", "before", "trl")


def _params() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def prepare(folder: Path, steps: int) -> dict[str, Any]:
    """Base model folder and splits, built once through the pipeline's own nodes, as the stages would.

    Kept in ``folder`` (``--work``) and reused by a later run with the same steps and params.
    """
    done = folder / "prepared.json"
    key = {"steps": steps, "params": _params()}
    if done.is_file() and json.loads(done.read_text())["key"] == key:
        return json.loads(done.read_text())["sizes"]
    from slmops.datasets.raw_records import RawRecordsDataset
    from slmops.pipelines.base_model.nodes import materialize_base_model
    from slmops.pipelines.ingest.nodes import validate_records
    from slmops.pipelines.split.nodes import split_train_validation
    from slmops.pipelines.template.nodes import apply_template

    params = _params()
    bundle, _ = materialize_base_model(params["base_model"])
    bundle.model.save_pretrained(folder / "base")
    bundle.tokenizer.save_pretrained(folder / "base")
    data = params["data"]
    raw = RawRecordsDataset(str(ROOT / data["source"]), data.get("format", "auto"), data.get("hf_split")).load()
    records = list(validate_records(raw, data, params["template"]))  # streamed: materialize for the benchmark
    examples = list(apply_template(records, params["template"], data, bundle, params["train"]["max_length"]))
    train, validation, _, _ = split_train_validation(examples, params["split"], data)
    rows = steps * params["train"]["batch_size"]
    _write_rows(folder / "train.jsonl", train[:rows])
    _write_rows(folder / "validation.jsonl", validation[:VALIDATION_ROWS])
    _write_rows(folder / "train_all.jsonl", train)  # the whole split, for benchmarks/train_memory.py
    sizes = {"epoch_rows": len(train), "rows": len(train[:rows])}
    done.write_text(json.dumps({"key": key, "sizes": sizes}))
    return sizes


def matmul_peak(size: int = 1024, repeats: int = 20) -> float:
    """Best fp32 GFLOPS of a square matmul in this process (the machine's attainable peak, roughly)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def validation_loss(model: Any, tokenizer: Any, rows: list[dict[str, Any]]) -> float:
    """Mean completion-token cross-entropy in fp32, the same code for every variant."""
    import torch

    from slmops.modeling.encoding import CompletionOnlyLogitsCollator, encode_examples

    encoded = encode_examples(tokenizer, rows, 256)
    collate = CompletionOnlyLogitsCollator(pad_token_id=tokenizer.pad_token_id)
    model.float().eval()
    losses, counts = [], []
    with torch.no_grad():
        for start in range(0, len(encoded), 16):
            inputs = collate(encoded[start:start + 16])
            losses.append(float(model(**inputs).loss))
            counts.append(int((inputs["labels"][:, 1:] != -100).sum()))
    return sum(loss * count for loss, count in zip(losses, counts, strict=True)) / sum(counts)


def _read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_slmops(folder: Path, variant: str) -> dict[str, Any]:
    """The train stage's trainer on folder paths, as `train_model` runs it for `train.distributed: null`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from slmops.pipelines.train.job import TrainJob
    from slmops.pipelines.train.run import run_training

    params = dict(_params()["train"], epochs=1, max_steps=None, distributed=None)
    if variant == "fp32":
        params["precision"] = "fp32"
    elif variant == "plain":
        params["quantization_aware"] = None
    elif variant == "before":
        from int4_rounding_speed import rounding_before

        from slmops.modeling import quantization

        quantization.round_to_int4_grid = lambda weight, block_size, in_place=False: rounding_before(weight, block_size)
    with tempfile.TemporaryDirectory() as scratch:
        job = TrainJob(base_model=str(folder / "base"), train_split=str(folder / "train.jsonl"),
                       validation_split=str(folder / "validation.jsonl"), params=params,
                       run_folder=f"{scratch}/run", tensorboard_dir=f"{scratch}/tb", outputs=f"{scratch}/out")
        run_training(job)
        metrics = json.loads(job.metrics_file.read_text())
        model = AutoModelForCausalLM.from_pretrained(job.merged_model_dir, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(job.merged_model_dir)
        loss = validation_loss(model, tokenizer, _read_rows(folder / "validation.jsonl"))
    return {"seconds": metrics["train_seconds"], "steps": metrics["steps"], "precision": metrics["precision"],
            "shared_prefix": metrics["shared_prefix"], "loss": loss}


def run_trl(folder: Path) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    train = _params()["train"]
    tokenizer = AutoTokenizer.from_pretrained(folder / "base")
    model = AutoModelForCausalLM.from_pretrained(folder / "base", dtype=torch.float32)
    lora = train["lora"]
    rows = _read_rows(folder / "train.jsonl")
    with tempfile.TemporaryDirectory() as scratch:
        config = SFTConfig(output_dir=scratch, num_train_epochs=1, per_device_train_batch_size=train["batch_size"],
                           learning_rate=train["learning_rate"], lr_scheduler_type=train["lr_scheduler"],
                           warmup_steps=train["warmup_ratio"], seed=train["seed"], save_strategy="no",
                           report_to="none", use_cpu=True, disable_tqdm=True)
        trainer = SFTTrainer(model=model, args=config, processing_class=tokenizer,
                             train_dataset=Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]}
                                                              for r in rows]),
                             peft_config=LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                                                    target_modules=lora["target_modules"], task_type="CAUSAL_LM"))
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "steps": trainer.state.global_step, "precision": "bf16" if config.bf16 else "fp32",
            "loss": validation_loss(trainer.model, tokenizer, _read_rows(folder / "validation.jsonl"))}


def child(folder: Path, variant: str, output: Path) -> None:
    result = run_trl(folder) if variant == "trl" else run_slmops(folder, variant)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    output.write_text(json.dumps(result))


def _cpu_name() -> str:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    return next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line), "?")


def _run_child(folder: Path, variant: str, output: Path, env: dict[str, str]) -> dict[str, Any]:
    log = output.with_suffix(".log")
    with open(log, "w") as handle:
        status = subprocess.run([sys.executable, __file__, "--child", str(folder), variant, str(output)],
                                env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT).returncode
    if status != 0:
        sys.exit(f"variant {variant} failed (status {status}); its output:\n{log.read_text()[-4000:]}")
    return json.loads(output.read_text())


def report(results: dict[str, list[dict[str, Any]]], tokens: int, sizes: dict[str, int], peak: float) -> None:
    print(f"{'variant':<8} {'precision':<9} {'tok/s (each round)':<20} {'s/epoch':>8} {'peak RSS':>9} "
          f"{'fp32 peak':>9} {'val loss (each round)':<24} {'vs trl':>6} {'per round':<18}")
    trl = [tokens / r["seconds"] for r in results.get("trl", [])]
    for variant, runs in results.items():
        rates = [tokens / r["seconds"] for r in runs]
        rate = statistics.median(rates)
        epoch_seconds = sizes["epoch_rows"] / sizes["rows"] * tokens / rate
        losses = [r["loss"] for r in runs]
        ratio = f"x{rate / statistics.median(trl):.2f}" if trl else ""
        rounds = ", ".join(f"{a / b:.2f}" for a, b in zip(rates, trl, strict=False)) if trl else ""
        print(f"{variant:<8} {runs[0]['precision']:<9} {', '.join(f'{x:.0f}' for x in rates):<20} "
              f"{epoch_seconds:8.0f} {max(r['peak_rss_mib'] for r in runs):5.0f} MiB "
              f"{rate * FLOPS_PER_TOKEN / peak / 1e9:8.0%} {', '.join(f'{x:.3f}' for x in losses):<24} "
              f"{ratio:>6} {rounds:<18}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the base model and rows here and reuse them (default: a temporary folder)")
    parser.add_argument("--child", nargs=3, metavar=("FOLDER", "VARIANT", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], Path(args.child[2]))
        return
    variants = args.variants.split(",")
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        sys.exit(f"unknown variants {sorted(unknown)}; choose from {', '.join(VARIANTS)}")

    import torch
    from transformers import AutoTokenizer

    from slmops.modeling.encoding import encode_examples
    from slmops.modeling.precision import training_precision

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    if args.threads:
        torch.set_num_threads(args.threads)
        env["OMP_NUM_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.work.resolve() if args.work else Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        sizes = prepare(folder, args.steps)
        tokenizer = AutoTokenizer.from_pretrained(folder / "base")
        tokens = sum(e["length"] for e in encode_examples(tokenizer, _read_rows(folder / "train.jsonl"), 256))
        results: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        peaks, loads = [], []
        for repeat in range(args.repeats):
            peaks.append(matmul_peak())
            for variant in variants:
                loads.append(os.getloadavg()[0])
                result = _run_child(folder, variant, folder / f"{variant}-{repeat}.json", env)
                results[variant].append(result)
                print(f"  round {repeat + 1} {variant:<8} {tokens / result['seconds']:6.1f} tok/s, "
                      f"validation loss {result['loss']:.4f}, load {os.getloadavg()[0]:.1f}", flush=True)
    peak = max(peaks)
    print(f"\n{_cpu_name()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads, train.precision auto -> "
          f"{training_precision('cpu')} here; fp32 matmul peak {peak:.0f} GFLOPS (rounds: "
          f"{', '.join(f'{p:.0f}' for p in peaks)}); 1-minute load average before each run "
          f"{min(loads):.1f} to {max(loads):.1f}")
    print(f"{args.steps} steps x batch {_params()['train']['batch_size']} = {sizes['rows']} rows, {tokens} tokens, "
          f"one epoch; an epoch of the default split is {sizes['epoch_rows']} rows; validation loss on "
          f"{VALIDATION_ROWS} validation rows, fp32; medians over {args.repeats} alternating rounds\n")
    report(results, tokens, sizes, peak)


if __name__ == "__main__":
    main()
