"""Training step throughput on the real model: our completion-only-logits batches vs plain right padding.

Same model, same LoRA, same batches, interleaved in one process so machine noise hits both alike.
Usage: python benchmarks/train_throughput.py [--steps N] [--model data/06_models/base_model]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from slmops.config import TrainParams, parse  # noqa: E402
from slmops.datasets import JSONLinesDataset  # noqa: E402
from slmops.modeling.bundle import ModelBundle  # noqa: E402
from slmops.modeling.encoding import CompletionCollator, CompletionOnlyLogitsCollator, encode_examples  # noqa: E402
from slmops.pipelines.train.methods import wrap_for_training  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--model", default=str(ROOT / "data/06_models/base_model"))
    parser.add_argument("--examples", default=str(ROOT / "data/05_model_input/train.jsonl"))
    args = parser.parse_args()

    import torch

    params: TrainParams = parse(TrainParams, yaml.safe_load((ROOT / "params.yaml").read_text())["train"], "train")
    bundle = ModelBundle(path=Path(args.model))
    model = wrap_for_training(bundle.model, params)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    examples = JSONLinesDataset(args.examples).load()[: args.steps * params.batch_size]
    encoded = encode_examples(bundle.tokenizer, examples, params.max_length)
    batches = [encoded[i:i + params.batch_size] for i in range(0, len(encoded), params.batch_size)]
    collators = {"plain right padding": CompletionCollator(bundle.tokenizer.pad_token_id),
                 "completion-only logits": CompletionOnlyLogitsCollator(bundle.tokenizer.pad_token_id)}
    seconds = {name: [] for name in collators}
    tokens = sum(len(f["input_ids"]) for f in encoded)
    for batch in batches:
        for name, collate in collators.items():
            inputs = collate(batch)
            started = time.perf_counter()
            loss = model(**inputs).loss
            loss.backward()
            optimizer.zero_grad(set_to_none=True)
            seconds[name].append(time.perf_counter() - started)
    print(f"{len(batches)} steps x batch {params.batch_size}, {tokens} tokens, LoRA r{params.lora.r}, "
          f"{torch.get_num_threads()} threads")
    baseline = sum(seconds["plain right padding"])
    for name, values in seconds.items():
        total = sum(values)
        print(f"  {name:<24} {tokens / total:7.1f} tok/s   median step {statistics.median(values):.2f} s   "
              f"x{baseline / total:.2f} vs plain")


if __name__ == "__main__":
    main()
