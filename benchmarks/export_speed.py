"""Decode speed of every runnable ONNX target against transformers fp32 (and llama.cpp, given llama-bench).

Same prompts (validation rows, or built-in ones), same number of new tokens, greedy, single stream, the engines
alternating round by round in one process. Per engine: first-token latency (prompt processing + one token),
decode-only tokens/s (the tokens after the first) and generated tokens/s (all tokens over the whole time).

Targets are built from --model into a scratch folder with the params.yaml options, plus variants that try
session options (threads) on cpu-int4. Usage:
    python benchmarks/export_speed.py [--model data/06_models/merged_model] [--targets cpu-int4,cpu-int8,cpu-fp32]
        [--prompts 8] [--tokens 64] [--rounds 2] [--llama-bench PATH] [--check-fp32 140]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import yaml  # noqa: E402

from slmops.config import validate_params  # noqa: E402
from slmops.modeling.bundle import ModelBundle  # noqa: E402
from slmops.modeling.generation import generate_greedy, measure_decode_speed  # noqa: E402
from slmops.modeling.onnx_targets import builder_extra_options  # noqa: E402
from slmops.pipelines.export.nodes import run_builder  # noqa: E402

FALLBACK_PROMPTS = ["play some jazz from the seventies", "will it rain in Paris tomorrow",
                    "add this song to my workout playlist", "book a table for four at an italian place tonight",
                    "rate this book five stars", "find the movie schedule for the nearest cinema",
                    "what is the weather like in Tokyo next week", "search for the album thriller"]


def prompts_for(bundle: ModelBundle, count: int) -> list[str]:
    validation = ROOT / "data/05_model_input/validation.jsonl"
    if validation.is_file():
        return [json.loads(line)["prompt"] for line in validation.read_text().splitlines()[:count]]
    system = "Classify the intent of the user request. Answer with the intent only."
    return [bundle.tokenizer.apply_chat_template([{"role": "system", "content": system}, {"role": "user", "content": p}],
                                                 tokenize=False, add_generation_prompt=True)
            for p in FALLBACK_PROMPTS[:count]]


class OnnxEngine:
    def __init__(self, folder: Path, tokenizer):
        import onnxruntime_genai as og

        self.og, self.tokenizer = og, tokenizer
        self.model = og.Model(str(folder))

    def run(self, prompt: str, new_tokens: int) -> tuple[float, float]:
        ids = self.tokenizer(prompt)["input_ids"]
        params = self.og.GeneratorParams(self.model)
        params.set_search_options(max_length=len(ids) + new_tokens, min_length=len(ids) + new_tokens, do_sample=False)
        generator = self.og.Generator(self.model, params)
        self.activate(generator)
        started = time.perf_counter()
        generator.append_tokens(ids)
        generator.generate_next_token()
        first = time.perf_counter() - started
        while not generator.is_done():
            generator.generate_next_token()
        total = time.perf_counter() - started
        del generator
        return first, total

    def activate(self, generator) -> None:
        """Set up a new generator before timing starts (nothing for a plain model)."""


class AdapterEngine(OnnxEngine):
    """A separate-adapter model with one adapter active (or none: the base alone)."""

    def __init__(self, folder: Path, tokenizer, adapter: str | None):
        super().__init__(folder, tokenizer)
        self.adapter = adapter
        if adapter:
            self.adapters = self.og.Adapters(self.model)
            self.adapters.load(str(folder / "adapters" / f"{adapter}.onnx_adapter"), adapter)

    def activate(self, generator) -> None:
        if self.adapter:
            generator.set_active_adapter(self.adapters, self.adapter)


def separate_adapter_model(model_dir: Path, target: str, options, lora, scratch: Path) -> Path:
    """cpu-int4 with a LoRA adapter of the pipeline's shape (random values: speed does not depend on them)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from slmops.modeling.onnx_adapters import lora_float_nodes
    from slmops.pipelines.export.nodes import write_separate_adapters

    torch.manual_seed(0)
    adapter = scratch / "adapter"
    peft = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir),
                          LoraConfig(r=lora.r, lora_alpha=lora.alpha, target_modules=lora.target_modules,
                                     init_lora_weights=False))
    peft.save_pretrained(adapter)
    folder = scratch / f"{target}-separate"
    run_builder(model_dir, folder, target, options,
                builder_extra_options(options, adapter_path=adapter, float_nodes=lora_float_nodes(adapter)))
    write_separate_adapters(folder, {"tuned": adapter})
    return folder


class TorchEngine:
    def __init__(self, bundle: ModelBundle):
        self.bundle = bundle

    def run(self, prompt: str, new_tokens: int) -> tuple[float, float]:
        first = measure_decode_speed(self.bundle, [prompt], 1)["first_token_ms"] / 1000
        total = new_tokens / measure_decode_speed(self.bundle, [prompt], new_tokens)["tokens_per_second"]
        return first, total


def with_threads(folder: Path, threads: int, scratch: Path) -> Path:
    """A copy of the model folder whose genai_config.json sets intra_op_num_threads (files linked, not copied)."""
    variant = scratch / f"{folder.name}-threads{threads}"
    variant.mkdir()
    for item in folder.iterdir():
        (variant / item.name).symlink_to(item.resolve())
    (variant / "genai_config.json").unlink()
    config = json.loads((folder / "genai_config.json").read_text())
    config["model"]["decoder"]["session_options"]["intra_op_num_threads"] = threads
    (variant / "genai_config.json").write_text(json.dumps(config))
    return variant


def llama_bench(binary: str, tokens: int, prompt_tokens: int) -> dict[str, float]:
    from slmops.config import EMBEDDED_MODEL
    from slmops.modeling.sources import resolve_model_source

    source = resolve_model_source(EMBEDDED_MODEL)
    gguf = Path(source.location) / source.gguf_file
    out = subprocess.run([binary, "-m", str(gguf), "-p", "0", "-n", str(tokens), "-pg", f"{prompt_tokens},{tokens}",
                          "-o", "json"], capture_output=True, text=True, check=True).stdout
    return {row.get("n_prompt", 0) and f"pp{row['n_prompt']}+tg{row['n_gen']}" or f"tg{row['n_gen']}": row["avg_ts"]
            for row in json.loads(out)}


def main() -> None:
    parser = argparse.ArgumentParser()
    default_model = ROOT / "data/06_models/merged_model"
    parser.add_argument("--model", type=Path, default=default_model if default_model.is_dir()
                        else ROOT / "data/06_models/base_model")
    parser.add_argument("--targets", default="cpu-int4,cpu-int8,cpu-fp32")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", default="1,2", help="intra_op_num_threads variants of the first target")
    parser.add_argument("--llama-bench", default=None, help="path to llama.cpp's llama-bench binary")
    parser.add_argument("--adapter-cost", action="store_true",
                        help="also time the first target with a separate LoRA adapter (train.lora's shape), on and off")
    parser.add_argument("--check-fp32", type=int, default=0, help="greedy agreement of cpu-fp32 on N prompts")
    args = parser.parse_args()

    params = validate_params(yaml.safe_load((ROOT / "params.yaml").read_text()))
    bundle = ModelBundle(path=args.model)
    prompts = prompts_for(bundle, args.prompts)
    scratch = Path(tempfile.mkdtemp(prefix="slmops-bench-"))
    engines = {"transformers fp32": TorchEngine(bundle)}
    folders = {}
    try:
        for target in args.targets.split(","):
            options = params.export.target_options[target]
            folders[target] = scratch / target
            started = time.perf_counter()
            run_builder(args.model, folders[target], target, options, builder_extra_options(options))
            print(f"built {target} in {time.perf_counter() - started:.1f} s", flush=True)
            engines[target] = OnnxEngine(folders[target], bundle.tokenizer)
        first = args.targets.split(",")[0]
        for threads in [int(t) for t in args.threads.split(",") if t]:
            engines[f"{first} threads={threads}"] = OnnxEngine(with_threads(folders[first], threads, scratch),
                                                              bundle.tokenizer)
        if args.adapter_cost:
            separate = separate_adapter_model(args.model, first, params.export.target_options[first],
                                              params.train.lora, scratch)
            folders[f"{first}-separate"] = separate
            engines[f"{first}-separate adapter on"] = AdapterEngine(separate, bundle.tokenizer, "tuned")
            engines[f"{first}-separate adapter off"] = AdapterEngine(separate, bundle.tokenizer, None)
            adapter_mb = (separate / "adapters/tuned.onnx_adapter").stat().st_size / 1e6
            print(f"separate {first}: base {sum(p.stat().st_size for p in separate.glob('model.onnx*')) / 1e6:.1f} MB, "
                  f"adapter r={params.train.lora.r} {adapter_mb:.1f} MB", flush=True)
        for engine in engines.values():  # warm-up, untimed
            engine.run(prompts[0], 4)
        times = {name: [] for name in engines}
        for _ in range(args.rounds):
            for name, engine in engines.items():
                started = time.perf_counter()
                times[name] += [engine.run(p, args.tokens) for p in prompts]
                print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)
        ntok = sum(len(bundle.tokenizer(p)["input_ids"]) for p in prompts) / len(prompts)
        print(f"\n{len(prompts)} prompts (~{ntok:.0f} tokens) x {args.tokens} new tokens, greedy, single stream, "
              f"{args.rounds} rounds alternating; model {args.model.relative_to(ROOT)}")
        print(f"{'engine':<34}{'first token ms':>15}{'decode tok/s':>14}{'generated tok/s':>17}{'vs fp32':>9}{'MB':>7}")
        base = None
        for name, runs in times.items():
            first_ms = 1000 * sum(f for f, _ in runs) / len(runs)
            decode = (args.tokens - 1) * len(runs) / sum(t - f for f, t in runs)
            generated = args.tokens * len(runs) / sum(t for _, t in runs)
            base = base or decode
            target = name.split(" ")[0]
            size = sum(p.stat().st_size for p in folders[target].rglob("*") if p.is_file()) / 1e6 \
                if target in folders else sum(p.stat().st_size for p in args.model.rglob("*.safetensors")) / 1e6
            print(f"{name:<34}{first_ms:>15.1f}{decode:>14.1f}{generated:>17.1f}{decode / base:>8.2f}x{size:>7.0f}")
        if args.llama_bench:
            for test, rate in llama_bench(args.llama_bench, args.tokens, round(ntok)).items():
                print(f"{'llama.cpp ' + test:<28}{'':>15}{rate:>14.1f}")
        else:
            print("llama.cpp: not measured (pass --llama-bench PATH; llama-bench builds from the vendored llama.cpp in "
                  "the llama-cpp-python sdist with cmake, ~15 minutes on 2 cores)")
        if args.check_fp32 and "cpu-fp32" in folders:
            check = prompts_for(bundle, args.check_fp32)
            from slmops.modeling.genai import GenaiModel

            expected = generate_greedy(bundle, check, 16, batch_size=16)  # as the evaluate stage generates
            got = GenaiModel(folders["cpu-fp32"], bundle.tokenizer).generate(check, 16)
            same = sum(a == b for a, b in zip(expected, got))
            print(f"cpu-fp32 greedy output (16 tokens) equal to transformers fp32 on {same}/{len(check)} prompts")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
