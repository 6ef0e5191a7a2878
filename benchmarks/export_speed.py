"""Decode speed of every runnable ONNX target against transformers fp32 (and llama.cpp, given llama-bench).

Same prompts (validation rows, or built-in ones), same number of new tokens, greedy, single stream, the engines
alternating round by round in one process. Per engine: first-token latency (prompt processing + one token),
decode-only tokens/s (the tokens after the first) and generated tokens/s (all tokens over the whole time).

Targets are built from --model into a scratch folder with the params.yaml options, each loaded once per --threads
setting (export.runtime.threads values, overlaid at load time; default: onnxruntime-genai's own choice beside
params.yaml's), plus --variants of the first target (builder and session options, `benchmarks/export_variants.py`), each measured beside it; with
--quality N each ONNX engine also answers N validation rows (macro-F1, and agreement with the first target).
With --llama-bench, llama.cpp runs once per prompt slot between the others. Usage:
    python benchmarks/export_speed.py [--model data/06_models/merged_model] [--targets cpu-int4,cpu-int8,cpu-fp32]
        [--prompts 8] [--tokens 64] [--rounds 2] [--threads default,auto,1,2] [--variants all|NAME,...] [--quality 140]
        [--llama-bench PATH] [--llama-threads 1,2] [--keep DIR] [--no-transformers] [--check-fp32 140]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import yaml  # noqa: E402

from slmops.config import RuntimeParams, parse, validate_params  # noqa: E402
from slmops.modeling.genai import intra_op_threads  # noqa: E402
from slmops.modeling.bundle import ModelBundle  # noqa: E402
from slmops.modeling.generation import generate_greedy  # noqa: E402
from slmops.modeling.onnx_targets import builder_extra_options  # noqa: E402
from slmops.pipelines.export.nodes import run_builder  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from export_variants import VARIANTS, LlamaBench, variant_options, with_session_options  # noqa: E402
from speed_engines import OnnxEngine, TorchEngine  # noqa: E402

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


def thread_settings(text: str, params) -> list[str | int]:
    """--threads as validated export.runtime.threads values, in order, without repeats."""
    given = [t for t in text.split(",") if t] if text else ["default", params.export.runtime.threads]
    settings = [parse(RuntimeParams, {"threads": t}, "--threads").threads for t in given]
    return list(dict.fromkeys(settings))


def engine_name(target: str, threads: str | int) -> str:
    count = intra_op_threads(threads)
    return f"{target} threads={threads}" + (f" ({count})" if threads == "auto" else "")


def build_engines(args, params, bundle, scratch: Path) -> tuple[dict, dict]:
    engines, folders = ({} if args.no_transformers else {"transformers fp32": TorchEngine(bundle)}), {}
    targets, settings = args.targets.split(","), thread_settings(args.threads, params)
    for target in targets:
        options = params.export.target_options[target]
        started = time.perf_counter()
        if not (scratch / target / "genai_config.json").is_file():  # --keep: built by an earlier run
            run_builder(args.model, scratch / target, target, options, builder_extra_options(options))
        print(f"built {target} in {time.perf_counter() - started:.1f} s", flush=True)
        for threads in settings:
            folders[engine_name(target, threads)] = scratch / target
            engines[engine_name(target, threads)] = OnnxEngine(scratch / target, bundle.tokenizer, threads=threads)
    first = targets[0]
    shipped = params.export.runtime.threads  # variants run with params.yaml's setting unless they set threads
    names = list(VARIANTS) if args.variants == "all" else [v for v in args.variants.split(",") if v]
    for number, name in enumerate(names):
        builder, session = VARIANTS[name]
        folder = scratch / first
        if builder:
            options = variant_options(params.export.target_options[first], builder)
            folder = scratch / f"{first}-variant{number}"
            try:
                if not (folder / "genai_config.json").is_file():
                    run_builder(args.model, folder, first, options, builder_extra_options(options))
            except Exception as error:  # a variant the builder cannot make is a finding, not a crash
                print(f"variant {name}: the builder failed ({str(error).splitlines()[0][:200]})", flush=True)
                continue
        if session:
            shutil.rmtree(scratch / f"{first}-session{number}", ignore_errors=True)
            folder = with_session_options(folder, session, scratch / f"{first}-session{number}")
        try:
            threads = "default" if "intra_op_num_threads" in session else shipped
            engines[f"{first} {name}"] = OnnxEngine(folder, bundle.tokenizer, threads=threads)
        except RuntimeError as error:  # the builder made a model onnxruntime rejects: also a finding
            print(f"variant {name}: built, but onnxruntime-genai cannot load it ({str(error)[:200]})", flush=True)
            continue
        folders[f"{first} {name}"] = folder
    if args.adapter_cost:
        separate = separate_adapter_model(args.model, first, params.export.target_options[first],
                                          params.train.lora, scratch)
        folders[f"{first}-separate adapter on"] = folders[f"{first}-separate adapter off"] = separate
        engines[f"{first}-separate adapter on"] = OnnxEngine(separate, bundle.tokenizer, "tuned", threads=shipped)
        engines[f"{first}-separate adapter off"] = OnnxEngine(separate, bundle.tokenizer, threads=shipped)
        adapter_mb = (separate / "adapters/tuned.onnx_adapter").stat().st_size / 1e6
        print(f"separate {first}: base {sum(p.stat().st_size for p in separate.glob('model.onnx*')) / 1e6:.1f} MB, "
              f"adapter r={params.train.lora.r} {adapter_mb:.1f} MB", flush=True)
    return engines, folders


def quality(engines: dict, bundle: ModelBundle, params, rows: int, first: str) -> dict[str, tuple[float, float, float]]:
    """Each ONNX engine's macro-F1 on the first ``rows`` validation rows, its agreement with ``first``, and with
    its own target under the first thread setting.

    Engines differing only in threads are all scored: the thread count can change the order of float sums.
    """
    from slmops.metrics import evaluation_rows, references_of, score_predictions, task_spec

    examples = [json.loads(line) for line in (ROOT / "data/05_model_input/validation.jsonl").read_text().splitlines()]
    examples = evaluation_rows(examples, rows)
    spec = task_spec(examples, params.evaluate.task, params.evaluate.answer_pattern, params.evaluate.generation.stop_strings)
    answers, results = {}, {}
    session_only = {name for name, (builder, _) in VARIANTS.items() if not builder}
    target = first.split(" ")[0]
    for name, engine in engines.items():
        if not isinstance(engine, OnnxEngine) or "separate" in name or name.removeprefix(f"{target} ") in session_only:
            continue  # spinning and graph-level options do not change what is computed
        generated = engine.genai.answer([e["prompt"] for e in examples], params.evaluate.max_new_tokens,
                                        settings=params.evaluate.generation, desc=name)
        scores = score_predictions([t for t, _ in generated], references_of(examples), spec, resamples=10)
        answers[name] = scores.answers
        same = sum(a == b for a, b in zip(scores.answers, answers[first])) / len(examples)
        own = answers[next(n for n in answers if n.split(" ")[0] == name.split(" ")[0])]
        results[name] = (scores.metrics["f1"], same, sum(a == b for a, b in zip(scores.answers, own)) / len(examples))
    return results


def report(args, times: dict, folders: dict, llamas: dict[str, LlamaBench], ntok: float, first: str) -> None:
    print(f"\n{args.prompts} prompts (~{ntok:.0f} tokens) x {args.tokens} new tokens, greedy, single stream, "
          f"{args.rounds} rounds, engines alternating prompt by prompt; model {args.model.relative_to(ROOT) if args.model.is_relative_to(ROOT) else args.model}"
          f"; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"decode ratios are to {first}")
    print(f"{'engine':<44}{'first token ms':>15}{'decode tok/s':>13}{'generated tok/s':>16}{'vs first':>13}"
          f"{'vs fp32':>9}{'MB':>6}")
    rows = {}
    for name, runs in times.items():
        rows[name] = {"first_token_ms": 1000 * sum(f for f, _ in runs) / len(runs),
                      "decode": (args.tokens - 1) * len(runs) / sum(t - f for f, t in runs),
                      "generated": args.tokens * len(runs) / sum(t for _, t in runs)}
    for name, llama in llamas.items():
        rows[name] = llama.figures()
    for name, row in rows.items():
        folder = folders.get(name)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() or p.is_symlink()) / 1e6 if folder \
            else (llamas[name].gguf.stat().st_size / 1e6 if name in llamas else
                  sum(p.stat().st_size for p in args.model.rglob("*.safetensors")) / 1e6)
        print(f"{name:<44}{row['first_token_ms']:>15.1f}{row['decode']:>13.1f}{row['generated']:>16.1f}"
              f"{row['decode'] / rows[first]['decode']:>12.2f}x"
              + (f"{row['decode'] / rows['transformers fp32']['decode']:>8.2f}x" if "transformers fp32" in rows else "")
              + f"{size:>6.0f}")
    if not llamas:
        print("llama.cpp: not measured (pass --llama-bench PATH; bash benchmarks/build_llama_bench.sh builds it from "
              "the llama.cpp vendored in the llama-cpp-python sdist, ~15 minutes on 2 cores)")
        return
    for name, llama in llamas.items():
        theirs = rows[name]
        print(f"vs {name}: llama-bench itself reports {theirs['llama_bench_pg_ts']:.1f} tok/s for "
              f"pp{llama.prompt_tokens}+tg{args.tokens} (it counts the prompt tokens too)")
        for engine in [n for n in rows if n not in llamas and n != "transformers fp32"]:
            ours = rows[engine]
            print(f"  {engine:<42} decode only {ours['decode'] / theirs['decode']:.2f}x (tg{args.tokens}), generated "
                  f"{ours['generated'] / theirs['generated']:.2f}x (pp{llama.prompt_tokens}+tg{args.tokens})")


def main() -> None:
    parser = argparse.ArgumentParser()
    default_model = ROOT / "data/06_models/merged_model"
    parser.add_argument("--model", type=Path, default=default_model if default_model.is_dir()
                        else ROOT / "data/06_models/base_model")
    parser.add_argument("--targets", default="cpu-int4,cpu-int8,cpu-fp32")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", default="", help="export.runtime.threads settings each target is loaded with, "
                        "e.g. default,auto,1,2 (default: onnxruntime-genai's own choice and params.yaml's)")
    parser.add_argument("--variants", default="",
                        help=f"options tried on the first target: 'all' or some of {', '.join(VARIANTS)}")
    parser.add_argument("--keep", default=None, help="build into this folder, keep it, reuse what it holds "
                        "(only with the same model, params and variants)")
    parser.add_argument("--no-transformers", action="store_true", help="ONNX engines only (options side by side)")
    parser.add_argument("--quality", type=int, default=0, help="macro-F1 of each ONNX engine on N validation rows")
    parser.add_argument("--llama-bench", default=None, help="path to llama.cpp's llama-bench binary")
    parser.add_argument("--llama-threads", default="", help="llama-bench -t values, e.g. 1,2 (default: its own)")
    parser.add_argument("--adapter-cost", action="store_true",
                        help="also time the first target with a separate LoRA adapter (train.lora's shape), on and off")
    parser.add_argument("--check-fp32", type=int, default=0, help="greedy agreement of cpu-fp32 on N prompts")
    args = parser.parse_args()

    params = validate_params(yaml.safe_load((ROOT / "params.yaml").read_text()))
    bundle = ModelBundle(path=args.model)
    prompts = prompts_for(bundle, args.prompts)
    ntok = sum(len(bundle.tokenizer(p)["input_ids"]) for p in prompts) / len(prompts)
    first = engine_name(args.targets.split(",")[0], thread_settings(args.threads, params)[0])
    scratch = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="slmops-bench-"))
    print(f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    try:
        engines, folders = build_engines(args, params, bundle, scratch)
        llamas = {f"llama.cpp Q4_1 -t {t}" if t else "llama.cpp Q4_1": LlamaBench(args.llama_bench, round(ntok), args.tokens, t)
                  for t in ([int(t) for t in args.llama_threads.split(",") if t] or [None])} if args.llama_bench else {}
        for engine in engines.values():  # warm-up, untimed
            engine.run(prompts[0], 4)
        times = {name: [] for name in engines}
        # Alternate per prompt, not per engine: on a shared machine the load drifts within seconds, and each
        # slot (one prompt through every engine, llama-bench once) sees about the same load; the order rotates.
        names = list(engines) + list(llamas)
        for number in range(args.rounds):
            started = time.perf_counter()
            for slot, prompt in enumerate(prompts):
                shift = (number * len(prompts) + slot) % len(names)
                for name in names[shift:] + names[:shift]:
                    if name in llamas:
                        llamas[name].round()
                    else:
                        times[name].append(engines[name].run(prompt, args.tokens))
            print(f"  round {number + 1}: {time.perf_counter() - started:.1f} s, load average {os.getloadavg()[0]:.1f}",
                  flush=True)
        report(args, times, folders, llamas, ntok, first)
        if args.quality:
            print(f"\nquality on the first {args.quality} validation rows (evaluate params; greedy):")
            for name, (f1, same, own) in quality(engines, bundle, params, args.quality, first).items():
                print(f"{name:<44} macro-F1 {f1:.3f}   same answer as {first}: {same:.1%}, as its target's first "
                      f"thread setting: {own:.1%}")
        fp32 = [name for name in engines if name.startswith("cpu-fp32 threads=")]
        if args.check_fp32 and fp32:
            check = prompts_for(bundle, args.check_fp32)
            expected = generate_greedy(bundle, check, 16, batch_size=16)  # as the evaluate stage generates
            for name in fp32:
                same = sum(a == b for a, b in zip(expected, engines[name].genai.generate(check, 16)))
                print(f"{name} greedy output (16 tokens) equal to transformers fp32 on {same}/{len(check)} prompts")
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
