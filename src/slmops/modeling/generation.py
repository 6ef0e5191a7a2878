"""Greedy generation and completion perplexity with transformers (the PyTorch reference)."""

from __future__ import annotations

import math
import time
from typing import Any

from tqdm.auto import tqdm

from slmops.modeling.encoding import IGNORE_INDEX, CompletionCollator, encode_example


def generate_greedy(bundle: Any, prompts: list[str], max_new_tokens: int, batch_size: int,
                    desc: str = "generate") -> list[str]:
    """Greedy completions for each prompt, batched with left padding, special tokens stripped."""
    import torch

    model, tokenizer = bundle.model, bundle.tokenizer
    model.eval()
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    outputs: list[str] = []
    stop_ids = [i for i in {tokenizer.eos_token_id, model.generation_config.eos_token_id} if isinstance(i, int)]
    for start in tqdm(range(0, len(prompts), batch_size), desc=desc, unit="batch"):
        batch = prompts[start:start + batch_size]
        encoded = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=True)
        with torch.inference_mode():
            generated = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                                       pad_token_id=tokenizer.pad_token_id, eos_token_id=stop_ids or None)
        new_tokens = generated[:, encoded["input_ids"].shape[1]:]
        outputs.extend(tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
    return outputs


def completion_perplexity(bundle: Any, examples: list[dict[str, Any]], batch_size: int, max_length: int = 1024,
                          desc: str = "perplexity") -> float:
    """exp(mean negative log-likelihood of the completion tokens given their prompts)."""
    import torch

    model, tokenizer = bundle.model, bundle.tokenizer
    model.eval()
    collate = CompletionCollator(pad_token_id=tokenizer.pad_token_id)
    total_nll, total_tokens = 0.0, 0
    for start in tqdm(range(0, len(examples), batch_size), desc=desc, unit="batch"):
        features = [encode_example(tokenizer, e["prompt"], e["completion"], max_length)
                    for e in examples[start:start + batch_size]]
        batch = collate(features)
        with torch.inference_mode():
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        shifted_logits, shifted_labels = logits[:, :-1].float(), batch["labels"][:, 1:]
        nll = torch.nn.functional.cross_entropy(shifted_logits.reshape(-1, shifted_logits.shape[-1]),
                                                shifted_labels.reshape(-1), ignore_index=IGNORE_INDEX,
                                                reduction="sum")
        total_nll += float(nll)
        total_tokens += int((shifted_labels != IGNORE_INDEX).sum())
    return math.exp(total_nll / total_tokens) if total_tokens else float("nan")


def measure_decode_speed(bundle: Any, prompts: list[str], new_tokens: int) -> dict[str, float]:
    """Single-stream greedy decode of exactly ``new_tokens`` per prompt: tokens/s and first-token latency."""
    import torch

    model, tokenizer = bundle.model, bundle.tokenizer
    model.eval()
    generated_tokens, decode_seconds, first_token_ms = 0, 0.0, []
    for prompt in prompts:
        encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=True)
        with torch.inference_mode():
            started = time.perf_counter()
            model.generate(**encoded, max_new_tokens=1, min_new_tokens=1, do_sample=False,
                           pad_token_id=tokenizer.pad_token_id)
            first_token_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            out = model.generate(**encoded, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
            decode_seconds += time.perf_counter() - started
        generated_tokens += out.shape[1] - encoded["input_ids"].shape[1]
    return {"tokens_per_second": generated_tokens / decode_seconds,
            "first_token_ms": sum(first_token_ms) / len(first_token_ms)}
