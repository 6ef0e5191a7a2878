"""The engines `export_speed.py` times: an onnxruntime-genai model (optionally with a separate adapter active),
and transformers' generate. Each `run(prompt, new_tokens)` returns (seconds to the first token, seconds in all)."""

from __future__ import annotations

import time
from pathlib import Path


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
