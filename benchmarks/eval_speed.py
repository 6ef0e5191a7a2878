"""Evaluation speed: slmops' batched generation against a plain one-row-at-a-time `generate` loop.

Same model, same rows, same greedy settings and max_new_tokens, alternating in one process (this
shared CPU is noisy: compare within a run, not across runs). slmops' side is what the evaluate
stage runs: prompts sorted by length, left-padded batches, KV cache, each row ending at end-of-turn.

Uses the real SmolLM2-135M-Instruct: data/06_models/base_model when `make run` made it, the
embedded GGUF otherwise. Rows: SNIPS requests in the default chat template.
Usage: python benchmarks/eval_speed.py [--rows 32] [--batch-size 16] [--max-new-tokens 12] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import yaml  # noqa: E402

from slmops.modeling.bundle import ModelBundle  # noqa: E402
from slmops.modeling.generation import generate_answers  # noqa: E402


def load_model() -> ModelBundle:
    folder = ROOT / "data/06_models/base_model"
    if (folder / "config.json").is_file():
        return ModelBundle(path=folder)
    from slmops.config import EMBEDDED_MODEL
    from slmops.pipelines.base_model.nodes import materialize_base_model

    return materialize_base_model({"name_or_path": EMBEDDED_MODEL})


def snips_prompts(tokenizer, count: int) -> list[str]:
    system = yaml.safe_load((ROOT / "params.yaml").read_text())["template"]["system"]
    lines = (ROOT / "data/01_raw/snips-intents.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines[:: max(1, len(lines) // count)]][:count]
    return [tokenizer.apply_chat_template([{"role": "system", "content": system}, {"role": "user", "content": r["text"]}],
                                          tokenize=False, add_generation_prompt=True) for r in rows]


def plain_loop(bundle: ModelBundle, prompts: list[str], max_new_tokens: int) -> list[str]:
    """What one writes first: one prompt at a time, greedy, stopping at the model's end-of-turn."""
    import torch

    model, tokenizer = bundle.model, bundle.tokenizer
    answers = []
    for prompt in prompts:
        encoded = tokenizer(prompt, return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
        answers.append(tokenizer.decode(out[0, encoded["input_ids"].shape[1]:], skip_special_tokens=True))
    return answers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2, help="alternate the two ways this many times")
    args = parser.parse_args()

    bundle = load_model()
    prompts = snips_prompts(bundle.tokenizer, args.rows)
    plain_loop(bundle, prompts[:1], 2)  # warm-up, untimed
    timings: dict[str, list[float]] = {"plain": [], "slmops": []}
    answers: dict[str, list[str]] = {}
    for _ in range(args.rounds):
        started = time.perf_counter()
        answers["plain"] = plain_loop(bundle, prompts, args.max_new_tokens)
        timings["plain"].append(time.perf_counter() - started)
        started = time.perf_counter()
        answers["slmops"] = [g.text for g in generate_answers(bundle, prompts, args.max_new_tokens, args.batch_size)]
        timings["slmops"].append(time.perf_counter() - started)
        print(f"round: plain {timings['plain'][-1]:.1f} s, slmops {timings['slmops'][-1]:.1f} s", file=sys.stderr)
    agree = sum(a.strip() == b.strip() for a, b in zip(answers["plain"], answers["slmops"])) / len(prompts)
    plain_rate = len(prompts) * args.rounds / sum(timings["plain"])
    print(f"{len(prompts)} rows, max_new_tokens {args.max_new_tokens}, greedy, {args.rounds} rounds alternating "
          "(noisy shared CPU: compare within this run)")
    for name, label in (("plain", "plain generate loop, one row at a time"),
                        ("slmops", f"slmops generate_answers, batch {args.batch_size}")):
        rate = len(prompts) * args.rounds / sum(timings[name])
        print(f"  {label:<44} {rate:6.2f} rows/s   x{rate / plain_rate:.2f}")
    print(f"  same answers in both: {agree:.0%} of rows")


if __name__ == "__main__":
    main()
