"""Answers and completion perplexity with transformers (the PyTorch reference).

Generation is batched (left padding, KV cache), prompts sorted by length so a batch holds rows of
similar length, and each row stops at the end-of-turn token or a stop string.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from slmops.config.evaluate import GenerationParams
from slmops.metrics.answers import cut_at_stop_strings
from slmops.modeling.encoding import IGNORE_INDEX, encode_example
from slmops.modeling.generation_settings import hf_generate_kwargs, stop_token_ids
from slmops.modeling.shared_prefix import SharedPrefixCollator, decoder_of, forward_with_shared_prefix


@dataclass(frozen=True)
class Generation:
    text: str  # the decoded new tokens, special tokens dropped, cut at the first stop string
    new_tokens: int  # tokens generated, the end-of-turn token included
    truncated: bool  # max_new_tokens ran out before an end-of-turn token or a stop string


def _by_length(tokenizer: Any, prompts: list[str]) -> list[int]:
    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=True)["input_ids"]]
    return sorted(range(len(prompts)), key=lambda i: lengths[i])


def _row_result(tokenizer: Any, ids: list[int], stops: set[int], stop_strings: list[str], limit: int) -> Generation:
    ended_at = next((i for i, token in enumerate(ids) if token in stops), None)
    kept = ids if ended_at is None else ids[: ended_at + 1]
    while kept and ended_at is None and kept[-1] == tokenizer.pad_token_id:  # a batch pads rows that stopped early
        kept = kept[:-1]
    decoded = tokenizer.decode(kept, skip_special_tokens=True)
    text = cut_at_stop_strings(decoded, stop_strings)
    # A stop string may also end within the prompt's last characters: transformers then stops early too.
    truncated = ended_at is None and text == decoded and len(kept) >= limit
    return Generation(text=text, new_tokens=len(kept), truncated=truncated)


def generate_answers(bundle: Any, prompts: list[str], max_new_tokens: int, batch_size: int,
                     settings: GenerationParams | None = None, desc: str = "generate") -> list[Generation]:
    """One answer per prompt, in the order given, generated with ``settings`` (greedy by default)."""
    import torch

    settings = settings or GenerationParams()
    model, tokenizer = bundle.model, bundle.tokenizer
    model.eval()
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    stops = stop_token_ids(model, tokenizer)
    options = hf_generate_kwargs(settings, tokenizer, max_new_tokens, stops)
    torch.manual_seed(settings.seed)  # sampling draws from torch's RNG: same seed, same answers
    order = _by_length(tokenizer, prompts)
    results: list[Generation | None] = [None] * len(prompts)
    for start in tqdm(range(0, len(order), batch_size), desc=desc, unit="batch"):
        rows = order[start:start + batch_size]
        encoded = tokenizer([prompts[i] for i in rows], return_tensors="pt", padding=True, add_special_tokens=True)
        with torch.inference_mode():
            generated = model.generate(**encoded, **options)
        new_tokens = generated[:, encoded["input_ids"].shape[1]:].tolist()
        for row, ids in zip(rows, new_tokens):
            results[row] = _row_result(tokenizer, ids, set(stops), list(settings.stop_strings), max_new_tokens)
    return [r for r in results if r is not None]


def generate_greedy(bundle: Any, prompts: list[str], max_new_tokens: int, batch_size: int,
                    desc: str = "generate") -> list[str]:
    """Greedy completions for each prompt, special tokens stripped."""
    return [g.text for g in generate_answers(bundle, prompts, max_new_tokens, batch_size, desc=desc)]


def completion_nll(bundle: Any, examples: list[dict[str, Any]], batch_size: int, max_length: int = 1024,
                   desc: str = "perplexity") -> list[tuple[float, int]]:
    """Per row: (sum of the completion tokens' negative log-likelihood given the prompt, token count).

    Logits are computed for the completion window only (as in training), which skips the
    vocabulary projection for every prompt position, and the prompt prefix a batch's rows share
    (system prompt, chat header) runs once per batch, as in training: about half the compute.
    """
    import torch

    model, tokenizer = bundle.model, bundle.tokenizer
    model.eval()
    collate = SharedPrefixCollator(pad_token_id=tokenizer.pad_token_id)
    decoder = decoder_of(model)
    rows: list[tuple[float, int]] = []
    for start in tqdm(range(0, len(examples), batch_size), desc=desc, unit="batch"):
        features = [encode_example(tokenizer, e["prompt"], e["completion"], max_length)
                    for e in examples[start:start + batch_size]]
        batch = collate(features)
        labels, prefix_ids = batch.pop("labels"), batch.pop("prefix_ids", None)
        with torch.inference_mode():
            if prefix_ids is None:
                logits = model(**batch).logits
            else:
                logits = forward_with_shared_prefix(model, prefix_ids, decoder=decoder, **batch).logits
        shifted_logits, shifted_labels = logits[:, :-1].float(), labels[:, 1:]
        nll = torch.nn.functional.cross_entropy(shifted_logits.transpose(1, 2), shifted_labels,
                                                ignore_index=IGNORE_INDEX, reduction="none")
        counted = shifted_labels != IGNORE_INDEX
        rows.extend(zip(nll.sum(dim=1).tolist(), counted.sum(dim=1).tolist()))
    return [(float(n), int(t)) for n, t in rows]


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
