"""The engines `export_speed.py` times: an onnxruntime-genai model (optionally with a separate adapter active),
and transformers' generate. Each `run(prompt, new_tokens)` returns (seconds to the first token, seconds in all)."""

from __future__ import annotations

import time
from pathlib import Path


class OnnxEngine:
    """An onnxruntime-genai model (with ``adapter``, that separate adapter active; ``threads`` as
    export.runtime.threads), set up as the pipeline's `GenaiModel` sets up every request."""

    def __init__(self, folder: Path, tokenizer, adapter: str | None = None, threads: str | int = "default"):
        from slmops.modeling.genai import GenaiModel

        self.genai = GenaiModel(Path(folder), tokenizer, adapter=adapter, threads=threads)

    def run(self, prompt: str, new_tokens: int) -> tuple[float, float]:
        ids = self.genai.prompt_ids(prompt)
        started = time.perf_counter()
        generator = self.genai.generator(ids, new_tokens, exact=True)  # the prompt goes in here
        generator.generate_next_token()
        first = time.perf_counter() - started
        while not generator.is_done():
            generator.generate_next_token()
        total = time.perf_counter() - started
        del generator
        return first, total


class TorchEngine:
    """transformers' generate, greedy; the first token is timed inside the same call (a streamer sees it)."""

    def __init__(self, bundle):  # a slmops ModelBundle
        self.bundle = bundle

    def run(self, prompt: str, new_tokens: int) -> tuple[float, float]:
        import torch
        from transformers.generation.streamers import BaseStreamer

        class FirstToken(BaseStreamer):
            def __init__(self):
                self.calls, self.at = 0, None

            def put(self, value):  # first call: the prompt; second: the first new token
                self.calls += 1
                if self.calls == 2:
                    self.at = time.perf_counter()

            def end(self):
                pass

        model, tokenizer = self.bundle.model, self.bundle.tokenizer
        encoded = tokenizer(prompt, return_tensors="pt")
        streamer = FirstToken()
        with torch.inference_mode():
            started = time.perf_counter()
            model.generate(**encoded, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                           pad_token_id=tokenizer.pad_token_id, streamer=streamer)
            total = time.perf_counter() - started
        return streamer.at - started, total
