"""Training throughput on the real model: slmops as shipped, slmops with its speed levers, TRL's SFTTrainer.

Each run trains the default task's first ``steps x batch`` training rows (SNIPS through the default
template and split), then scores the trained model on validation rows in fp32. Every run is its own
subprocess (so peak RSS is its own) on the same base weights and rows; runs alternate variant by
variant, ``--repeats`` times, so machine noise hits all alike.

Variants (same LoRA r16 all-linear, learning rate, schedule, batch, steps and seed):
  shipped   the train node as committed: quantization-aware LoRA, fp32 (autograd through fake_quantize)
  levers    the same node with `quantized_lora_linear` (low-rank straight-through backward), the batch's
            shared prompt prefix computed once (`SharedPrefixCollator`), and `training_precision('cpu')`
            (bf16 autocast where the CPU has AVX512-BF16, else fp32)
  levers32  the same levers but fp32 (what a CPU without bf16 gets)
  plain     the levers without quantization-aware training (train.quantization_aware: null), to
            compare validation loss with TRL's plain LoRA model on the same footing
  trl       TRL SFTTrainer at its own defaults otherwise (bf16 autocast, gradient checkpointing, its
            collator), plain LoRA
Usage: python benchmarks/train_throughput.py [--steps 16] [--repeats 2] [--variants shipped,levers,trl]
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


def _params() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def prepare(folder: Path, steps: int) -> dict[str, Any]:
    """Base model folder and rows, built once through the pipeline's own nodes."""
    from slmops.datasets import JSONLinesDataset
    from slmops.pipelines.base_model.nodes import materialize_base_model
    from slmops.pipelines.split.nodes import split_train_validation
    from slmops.pipelines.template.nodes import apply_template

    params = _params()
    bundle = materialize_base_model(params["base_model"])
    bundle.model.save_pretrained(folder / "base")
    bundle.tokenizer.save_pretrained(folder / "base")
    records = JSONLinesDataset(str(ROOT / params["data"]["source"])).load()
    for number, record in enumerate(records, start=1):
        record.setdefault("id", str(number))
        record.setdefault("source_line", number)
    examples = list(apply_template(records, params["template"], params["data"], bundle))
    train, validation, _, _ = split_train_validation(examples, params["split"])
    rows = steps * params["train"]["batch_size"]
    (folder / "rows.json").write_text(json.dumps({"train": train[:rows], "validation": validation[:VALIDATION_ROWS]}))
    return {"epoch_rows": len(train), "rows": rows}


def matmul_peak(dtype_name: str, size: int = 1024, repeats: int = 20) -> float:
    """Best GFLOPS of a square matmul in this process (the machine's attainable peak, roughly)."""
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
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
    model.eval()
    losses, counts = [], []
    with torch.no_grad():
        for start in range(0, len(encoded), 16):
            batch = encoded[start:start + 16]
            inputs = collate(batch)
            losses.append(float(model(**inputs).loss))
            counts.append(int((inputs["labels"][:, 1:] != -100).sum()))
    return sum(loss * count for loss, count in zip(losses, counts)) / sum(counts)


def _with_levers(precision_lever: bool) -> None:
    """Prototype the wiring the train node gets at merge (see the README): four monkeypatches."""
    from slmops.modeling.precision import training_arguments_precision, training_precision
    from slmops.modeling.quantization import quantized_lora_linear
    from slmops.modeling.shared_prefix import SharedPrefixCollator, accept_shared_prefix
    from slmops.pipelines.train import methods, nodes

    def forward(self: Any, x: Any, *args: Any, **kwargs: Any) -> Any:
        (name,) = self.active_adapters
        return quantized_lora_linear(x, self.base_layer.weight, self.lora_A[name].weight, self.lora_B[name].weight,
                                     self.scaling[name], self.base_layer.bias, self._slmops_block_size)

    methods._quantized_lora_forward = forward
    nodes.CompletionOnlyLogitsCollator = SharedPrefixCollator
    wrap = methods.wrap_for_training
    nodes.wrap_for_training = lambda model, params: accept_shared_prefix(wrap(model, params))
    if precision_lever:
        import dataclasses

        shipped = nodes._training_arguments
        precision = training_precision("cpu")
        nodes._training_arguments = lambda params, output_dir: dataclasses.replace(
            shipped(params, output_dir), **training_arguments_precision(precision))


def run_slmops(folder: Path, rows: dict[str, Any], variant: str) -> dict[str, Any]:
    from slmops.modeling.bundle import ModelBundle
    from slmops.pipelines.train import nodes

    if variant != "shipped":
        _with_levers(precision_lever=variant in ("levers", "plain"))
    bundle = ModelBundle(path=folder / "base")
    train_params = dict(_params()["train"], epochs=1)
    if variant == "plain":
        train_params["quantization_aware"] = None
    with tempfile.TemporaryDirectory() as scratch:
        trained, _, metrics, _ = nodes.train_adapter(bundle, rows["train"], train_params,
                                                     Path(scratch) / "ckpt", Path(scratch) / "tb")
    return {"seconds": metrics["train_seconds"], "steps": metrics["steps"],
            "loss": validation_loss(trained, bundle.tokenizer, rows["validation"])}


def run_trl(folder: Path, rows: dict[str, Any]) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    train = _params()["train"]
    tokenizer = AutoTokenizer.from_pretrained(folder / "base")
    model = AutoModelForCausalLM.from_pretrained(folder / "base", dtype=torch.float32)
    lora = train["lora"]
    with tempfile.TemporaryDirectory() as scratch:
        config = SFTConfig(output_dir=scratch, num_train_epochs=1, per_device_train_batch_size=train["batch_size"],
                           learning_rate=train["learning_rate"], lr_scheduler_type=train["lr_scheduler"],
                           warmup_steps=train["warmup_ratio"], seed=train["seed"], save_strategy="no",
                           report_to="none", use_cpu=True, disable_tqdm=True)
        trainer = SFTTrainer(model=model, args=config, processing_class=tokenizer,
                             train_dataset=Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]}
                                                              for r in rows["train"]]),
                             peft_config=LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                                                    target_modules=lora["target_modules"], task_type="CAUSAL_LM"))
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "steps": trainer.state.global_step, "bf16": bool(config.bf16),
            "loss": validation_loss(trainer.model, tokenizer, rows["validation"])}


def child(folder: Path, variant: str, output: Path) -> None:
    rows = json.loads((folder / "rows.json").read_text())
    result = run_trl(folder, rows) if variant == "trl" else run_slmops(folder, rows, variant)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    output.write_text(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--variants", default="shipped,levers,levers32,trl")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--child", nargs=3, metavar=("FOLDER", "VARIANT", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], Path(args.child[2]))
        return

    import torch

    from slmops.modeling.encoding import encode_examples
    from slmops.modeling.precision import training_precision

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    if args.threads:
        torch.set_num_threads(args.threads)
        env["OMP_NUM_THREADS"] = str(args.threads)

    variants = args.variants.split(",")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        sizes = prepare(folder, args.steps)
        rows = json.loads((folder / "rows.json").read_text())
        from transformers import AutoTokenizer

        tokens = sum(e["length"] for e in encode_examples(AutoTokenizer.from_pretrained(folder / "base"),
                                                          rows["train"], 256))
        results: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        peaks = []
        for repeat in range(args.repeats):
            peaks.append(matmul_peak("float32"))
            for variant in variants:
                output = folder / f"{variant}-{repeat}.json"
                subprocess.run([sys.executable, __file__, "--child", str(folder), variant, str(output)], check=True,
                               env=env, stdout=subprocess.DEVNULL)  # its errors show on stderr
                results[variant].append(json.loads(output.read_text()))
                print(f"  round {repeat + 1} {variant:<9} {tokens / results[variant][-1]['seconds']:7.1f} tok/s",
                      flush=True)
    peak = max(peaks)
    flops_per_token = 4 * 134.5e6  # LoRA: forward 2N + input-gradient 2N multiply-adds per token (no weight grads)
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model_name = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line), "?")
    print(f"\n{model_name}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads, "
          f"training_precision('cpu') = {training_precision('cpu')}; fp32 matmul peak {peak:.0f} GFLOPS "
          f"(runs: {', '.join(f'{p:.0f}' for p in peaks)})")
    print(f"{args.steps} steps x batch {_params()['train']['batch_size']} = {sizes['rows']} rows, {tokens} tokens; "
          f"an epoch is {sizes['epoch_rows']} rows; validation loss on {len(rows['validation'])} rows, fp32\n")
    print(f"{'variant':<9} {'tok/s (each run)':<22} {'s/epoch':>8} {'peak RSS':>9} {'fp32 peak':>9} "
          f"{'val loss':>9} {'vs trl':>7}")
    reference = statistics.median(tokens / r["seconds"] for r in results.get("trl", [])) if "trl" in results else None
    for variant, runs in results.items():
        rates = [tokens / r["seconds"] for r in runs]
        rate = statistics.median(rates)
        epoch_seconds = sizes["epoch_rows"] / sizes["rows"] * tokens / rate
        print(f"{variant:<9} {', '.join(f'{x:.0f}' for x in rates):<22} {epoch_seconds:8.1f} "
              f"{max(r['peak_rss_mib'] for r in runs):6.0f} MiB {rate * flops_per_token / peak / 1e9:8.0%} "
              f"{statistics.median(r['loss'] for r in runs):9.4f} "
              f"{'' if reference is None else f'x{rate / reference:.2f}':>7}")


if __name__ == "__main__":
    main()
