"""Training step throughput on the real model: plain right-padded LoRA batches (the baseline), our
completion-only-logits batches, and those with quantization-aware LoRA (the default).

Same base weights, same LoRA, same batches, interleaved in one process so machine noise hits all alike.
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
    plain_params = params.model_copy(update={"quantization_aware": None})
    bundle = ModelBundle(path=Path(args.model))
    plain = wrap_for_training(bundle.model, plain_params)
    aware = wrap_for_training(ModelBundle(path=Path(args.model)).model, params) if params.quantization_aware else None
    examples = JSONLinesDataset(args.examples).load()[: args.steps * params.batch_size]
    encoded = encode_examples(bundle.tokenizer, examples, params.max_length)
    batches = [encoded[i:i + params.batch_size] for i in range(0, len(encoded), params.batch_size)]
    pad = bundle.tokenizer.pad_token_id
    variants = {"plain right padding": (plain, CompletionCollator(pad)),
                "completion-only logits": (plain, CompletionOnlyLogitsCollator(pad))}
    if aware is not None:
        variants["+ quantization-aware"] = (aware, CompletionOnlyLogitsCollator(pad))
    seconds = {name: [] for name in variants}
    tokens = sum(len(f["input_ids"]) for f in encoded)
    for batch in batches:
        for name, (model, collate) in variants.items():
            model.train()
            inputs = collate(batch)
            started = time.perf_counter()
            model(**inputs).loss.backward()
            model.zero_grad(set_to_none=True)
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
