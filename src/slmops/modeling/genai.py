"""Inference with onnxruntime-genai on an exported ONNX model folder, loaded with this machine's session settings."""

from __future__ import annotations

import functools
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from slmops.config import RuntimeParams, TargetParams
from slmops.modeling.onnx_targets import PACKAGES

DEFAULT_THREADS = RuntimeParams().threads  # export.runtime.threads when params.yaml does not say
DEFAULT_SPINNING = RuntimeParams().spinning


def intra_op_threads(threads: str | int) -> int | None:
    """The intra-op thread count ``threads`` (export.runtime.threads) stands for on this machine.

    None for "default": onnxruntime-genai then picks (half the logical CPUs, at most 16: it assumes two hardware
    threads per core, so on a 2-vCPU VM without SMT it runs one thread).
    """
    if threads == "default":
        return None
    if threads == "auto":
        # The CPUs this process may run on (taskset, cpusets); platforms without affinity report all CPUs.
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return int(threads)


def session_overlay(threads: str | int, spinning: bool = True) -> str | None:
    """The JSON overlaid on genai_config.json at load time (None: nothing to change)."""
    options: dict[str, Any] = {}
    count = intra_op_threads(threads)
    if count is not None:
        options["intra_op_num_threads"] = count
    if not spinning:  # keys onnxruntime-genai does not know itself go to onnxruntime as session config entries
        options["session.intra_op.allow_spinning"] = "0"
    return json.dumps({"model": {"decoder": {"session_options": options}}}) if options else None


def load_model(folder: Path, threads: str | int = DEFAULT_THREADS, spinning: bool = DEFAULT_SPINNING) -> Any:
    """``og.Model`` for ``folder`` with the session settings applied in memory; the folder's files are not touched."""
    import onnxruntime_genai as og

    config = og.Config(str(folder))
    overlay = session_overlay(threads, spinning)
    if overlay is not None:
        config.overlay(overlay)
    return og.Model(config)


def load_genai_model(folder: Path, options: TargetParams, runtime: RuntimeParams = RuntimeParams()
                     ) -> tuple[Any | None, str | None]:
    """The onnxruntime-genai model, or (None, why not) when this machine lacks the target's provider."""
    try:
        return load_model(folder, runtime.threads, runtime.spinning), None
    except RuntimeError as error:
        if options.execution_provider == "cpu":
            raise
        # File names only: metrics never hold a path of the machine that made them.
        detail = re.sub(r"/(?:[^\s/:]+/)+([^\s/:]+)", r"\1", str(error).strip())
        return None, (f"not run here: the {options.execution_provider} provider is not available on this machine "
                      f"({detail}); measuring it needs {PACKAGES[options.execution_provider]}")


def search_capacity(folder: Path) -> tuple[int | None, int | None]:
    """(sliding window, context length) of an exported model, from its genai_config.json (None: not set).

    onnxruntime-genai sizes the KV cache by the search's max_length, and a sliding-window layer
    (Gemma-2/3, SmolLM3) refuses a cache smaller than its window ("KV cache capacity (47) must be
    at least local_window_size (4096)"), however short the prompt.
    """
    try:
        model = json.loads((Path(folder) / "genai_config.json").read_text(encoding="utf-8"))["model"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
    window = (model.get("decoder", {}).get("sliding_window") or {}).get("window_size")
    return window, model.get("context_length")


class _Bounded:
    """A generator searching a longer max_length than asked for, stopped after ``new_tokens`` of its own."""

    def __init__(self, generator: Any, new_tokens: int):
        self._generator, self._left = generator, new_tokens

    def is_done(self) -> bool:
        return self._left <= 0 or self._generator.is_done()

    def generate_next_token(self) -> None:
        self._generator.generate_next_token()
        self._left -= 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._generator, name)


class GenaiModel:
    """An onnxruntime-genai model fed the same token ids the PyTorch model sees (the HF tokenizer's).

    With ``adapter``, that separate adapter (``adapters/<name>.onnx_adapter``) is active for every request.
    ``threads`` and ``spinning`` (export.runtime) apply when the model is loaded here, not when ``model`` is given.
    """

    def __init__(self, folder: Path, tokenizer: Any, model: Any = None, adapter: str | None = None,
                 threads: str | int = DEFAULT_THREADS, spinning: bool = DEFAULT_SPINNING):
        import onnxruntime_genai as og

        self._og = og
        started = time.perf_counter()
        self.model = model if model is not None else load_model(folder, threads, spinning)
        self.load_seconds = time.perf_counter() - started
        self.tokenizer = tokenizer
        self.window, self.context_length = search_capacity(Path(folder))
        self.adapters, self.adapter = None, None
        if adapter is not None:
            self.load_adapter(Path(folder), adapter)

    def load_adapter(self, folder: Path, name: str) -> None:
        from slmops.modeling.onnx_adapters import check_onnx_adapter, read_lora_inputs

        path = folder / "adapters" / f"{name}.onnx_adapter"
        check_onnx_adapter(path, read_lora_inputs(folder))
        if self.adapters is None:
            self.adapters = self._og.Adapters(self.model)
        self.adapters.load(str(path), name)
        self.adapter = name

    def generator(self, prompt_ids: list[int], new_tokens: int, exact: bool,
                   search_options: dict[str, Any] | None = None) -> Any:
        params = self._og.GeneratorParams(self.model)
        total = len(prompt_ids) + new_tokens
        # A sliding window needs a KV cache at least as long as the window: search that far, stop at ours.
        length = max(total, min(self.window, self.context_length or self.window)) if self.window else total
        options = search_options or {"do_sample": False}
        params.set_search_options(**{**options, "max_length": length, "min_length": total if exact else 0})
        generator = self._og.Generator(self.model, params)
        if self.adapter is not None:
            generator.set_active_adapter(self.adapters, self.adapter)
        generator.append_tokens(prompt_ids)
        return _Bounded(generator, new_tokens) if length > total else generator

    def prompt_ids(self, prompt: str) -> list[int]:
        return self.tokenizer(prompt, add_special_tokens=True)["input_ids"]

    def generate(self, prompts: list[str], max_new_tokens: int, desc: str = "generate (onnx)") -> list[str]:
        """Greedy answers, decoded."""
        return [text for text, _ in self.answer(prompts, max_new_tokens, desc=desc)]

    def answer(self, prompts: list[str], max_new_tokens: int, settings: Any = None,
               desc: str = "generate (onnx)") -> list[tuple[str, bool]]:
        """Each prompt's decoded answer, and whether it hit ``max_new_tokens`` without ending.

        ``settings`` (``evaluate.generation``) are applied as the PyTorch evaluation applies them
        (``slmops.modeling.generation_settings``); None is greedy.
        """
        from slmops.modeling.generation_settings import genai_search_options

        outputs = []
        for prompt in tqdm(prompts, desc=desc, unit="prompt"):
            ids = self.prompt_ids(prompt)
            options = genai_search_options(settings, len(ids) + max_new_tokens) if settings is not None else None
            generator = self.generator(ids, max_new_tokens, exact=False, search_options=options)
            while not generator.is_done():
                generator.generate_next_token()
            new_ids = list(generator.get_sequence(0))[len(ids):]
            del generator
            ended = bool(new_ids) and new_ids[-1] in self.end_ids
            outputs.append((self.tokenizer.decode(new_ids, skip_special_tokens=True),
                            len(new_ids) >= max_new_tokens and not ended))
        return outputs

    @functools.cached_property
    def end_ids(self) -> frozenset[int]:
        """The ids the exported genai_config.json stops at: the EOS and the chat template's end of turn."""
        from slmops.modeling.generation_settings import end_of_turn_ids

        eos = self.tokenizer.eos_token_id
        return frozenset(({eos} if isinstance(eos, int) else set()) | set(end_of_turn_ids(self.tokenizer)))

    def measure_decode_speed(self, prompts: list[str], new_tokens: int) -> dict[str, float]:
        """Single-stream greedy decode of exactly ``new_tokens`` per prompt."""
        generated, seconds, first_token_ms = 0, 0.0, []
        for prompt in prompts:
            ids = self.prompt_ids(prompt)
            started = time.perf_counter()
            generator = self.generator(ids, new_tokens, exact=True)
            generator.generate_next_token()
            first_token_ms.append((time.perf_counter() - started) * 1000)
            while not generator.is_done():
                generator.generate_next_token()
            seconds += time.perf_counter() - started
            generated += len(generator.get_sequence(0)) - len(ids)
            del generator
        return {"tokens_per_second": generated / seconds, "first_token_ms": sum(first_token_ms) / len(first_token_ms)}
