"""`slmops generate`: stream tokens from an exported target, with the chat template applied."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

import click

from slmops.errors import InputDataError, SlmopsError, UnsupportedError

ONNX_ROOT = Path("data/07_model_output/onnx")


def _params(params_file: Path) -> dict[str, Any]:
    import yaml

    return (yaml.safe_load(params_file.read_text(encoding="utf-8")) or {}) if params_file.is_file() else {}


def default_system_prompt(params_file: Path = Path("params.yaml")) -> str | None:
    """The task's system prompt from params.yaml, when it has no `{field}` to fill."""
    system = _params(params_file).get("template", {}).get("system")
    return system if system and "{" not in system else None


def runtime_params(params_file: Path = Path("params.yaml")) -> Any:
    """export.runtime from params.yaml (validated), else the shipped defaults."""
    from slmops.config import RuntimeParams, parse

    return parse(RuntimeParams, _params(params_file).get("export", {}).get("runtime", {}), "export.runtime")


class Threads(click.ParamType):
    """auto, default or a whole number >= 1, checked as export.runtime.threads is."""

    name = "auto|default|N"

    def convert(self, value: Any, param: Any, ctx: Any) -> str | int:
        from pydantic import ValidationError

        from slmops.config import RuntimeParams

        try:
            return RuntimeParams(threads=value).threads
        except ValidationError as error:
            self.fail(error.errors()[0]["msg"].removeprefix("Value error, "), param, ctx)


def chat_prompt(folder: Path, user: str, system: str | None) -> str:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)  # the exported tokenizer and chat template
    if not getattr(tokenizer, "chat_template", None):
        return f"{system}\n\n{user}\n" if system else f"{user}\n"
    from slmops.pipelines.template.chat import chat_text

    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    # As the template stage renders: the same fixed date and thinking off, so the prompt is the one trained on.
    return chat_text(tokenizer, messages, add_generation_prompt=True)


def stream_generate(folder: Path, prompt: str, max_new_tokens: int, adapter: str | None,
                    on_text: Callable[[str], Any], threads: str | int, spinning: bool = True) -> dict[str, float]:
    """Greedy generation, each decoded piece handed to ``on_text`` as it comes; returns timings."""
    import onnxruntime_genai as og

    from slmops.modeling.genai import GenaiModel

    # GenaiModel loads with the session settings and checks and activates the adapter, as evaluate_onnx does.
    model = GenaiModel(folder, tokenizer=None, adapter=adapter, threads=threads, spinning=spinning)
    tokenizer = og.Tokenizer(model.model)
    stream = tokenizer.create_stream()
    ids = tokenizer.encode(prompt)
    started = time.perf_counter()
    generator = model.generator(ids, max_new_tokens, exact=False)
    first_token_s, tokens = None, 0
    while not generator.is_done():
        generator.generate_next_token()
        tokens += 1
        if first_token_s is None:
            first_token_s = time.perf_counter() - started
        on_text(stream.decode(generator.get_next_tokens()[0]))
    total = time.perf_counter() - started
    del generator
    decode_s = total - (first_token_s or 0.0)
    return {"tokens": tokens, "prompt_tokens": len(ids), "first_token_ms": 1000 * (first_token_s or 0.0),
            "tokens_per_second": (tokens - 1) / decode_s if tokens > 1 and decode_s > 0 else float("nan")}


@click.command(name="generate")
@click.argument("prompt")
@click.option("--target", default="cpu-int4", show_default=True, help="exported target under data/07_model_output/onnx")
@click.option("--adapter", default=None, help="a separate adapter to activate (adapters/<NAME>.onnx_adapter)")
@click.option("--system", default=None, help="system prompt (default: template.system from params.yaml)")
@click.option("--max-new-tokens", default=128, show_default=True, type=click.IntRange(1, 4096))
@click.option("--threads", type=Threads(), default=None,
              help="intra-op threads: auto (the CPUs this process may use), default (onnxruntime-genai's choice) "
                   "or a number  [default: export.runtime.threads in params.yaml]")
@click.option("--bench", is_flag=True, help="print first-token latency and decode tokens/s after the answer")
def generate(prompt: str, target: str, adapter: str | None, system: str | None, max_new_tokens: int,
             threads: str | int | None, bench: bool) -> None:
    """Stream an answer to PROMPT from an exported model (run `dvc repro` first)."""
    folder = ONNX_ROOT / target
    try:
        if not (folder / "genai_config.json").is_file():
            known = sorted(p.name for p in ONNX_ROOT.glob("*") if (p / "genai_config.json").is_file())
            raise InputDataError(str(folder), f"no exported model for target '{target}' (exported here: "
                                 f"{', '.join(known) or 'none'}; run `dvc repro export@{target}`)")
        runtime = runtime_params()  # export.runtime.spinning applies too; --threads overrides the thread count
        threads = threads if threads is not None else runtime.threads
        text = chat_prompt(folder, prompt, system if system is not None else default_system_prompt())
        try:
            stats = stream_generate(folder, text, max_new_tokens, adapter,
                                    lambda piece: (sys.stdout.write(piece), sys.stdout.flush()), threads,
                                    runtime.spinning)
        except RuntimeError as error:  # e.g. the target's provider is not on this machine
            raise UnsupportedError(f"target '{target}' does not run here: {str(error).strip()}") from error
    except SlmopsError as error:
        click.secho(f"error: {error}", fg="red", err=True)
        sys.exit(2)
    click.echo()
    if bench:
        from slmops.modeling.genai import intra_op_threads

        count = intra_op_threads(threads)
        click.echo(f"{stats['tokens']} tokens after a {stats['prompt_tokens']}-token prompt: first token "
                   f"{stats['first_token_ms']:.1f} ms, decode {stats['tokens_per_second']:.1f} tokens/s "
                   f"(threads {threads}: {count if count else 'onnxruntime-genai default'})", err=True)
