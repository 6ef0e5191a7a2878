"""The `evaluate.generation` params as each engine takes them, so PyTorch and ONNX generate alike.

transformers: keyword arguments of ``model.generate``. onnxruntime-genai: keyword arguments of
``GeneratorParams.set_search_options``. Both engines stop at the end-of-turn token; neither stops
on a string mid-token the same way, so stop strings are also cut from the decoded text afterwards
(``slmops.metrics.cut_at_stop_strings``), identically for both.
"""

from __future__ import annotations

from typing import Any

from slmops.config.evaluate import GenerationParams


def sampling_kwargs(settings: GenerationParams) -> dict[str, Any]:
    """The sampling knobs both engines name alike."""
    options: dict[str, Any] = {"do_sample": settings.do_sample, "repetition_penalty": settings.repetition_penalty,
                               "no_repeat_ngram_size": settings.no_repeat_ngram_size}
    if settings.do_sample:
        options.update(temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k)
    return options


def hf_generate_kwargs(settings: GenerationParams, tokenizer: Any, max_new_tokens: int,
                       stop_token_ids: list[int]) -> dict[str, Any]:
    """Keyword arguments for transformers' ``generate`` (seed the RNG with ``settings.seed`` before it)."""
    options = sampling_kwargs(settings)
    if not settings.do_sample:  # keep the model's generation_config from adding sampling values to greedy runs
        options.update(temperature=None, top_p=None, top_k=None)
    options.update(max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                   eos_token_id=stop_token_ids or None)
    if settings.stop_strings:
        options.update(stop_strings=list(settings.stop_strings), tokenizer=tokenizer)
    return options


def genai_search_options(settings: GenerationParams, max_length: int) -> dict[str, Any]:
    """Keyword arguments for onnxruntime-genai's ``GeneratorParams.set_search_options``.

    ``max_length`` counts prompt and new tokens together there (prompt length + max_new_tokens).
    A top_k of 0 means "no limit" in transformers; onnxruntime-genai wants a positive value, so
    it gets the vocabulary-wide equivalent only when top_p limits the choice instead.
    """
    options = sampling_kwargs(settings)
    options.update(max_length=max_length, random_seed=settings.seed)
    if settings.do_sample and settings.top_k == 0:
        options.pop("top_k")
    return options


def stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """Token ids that end an answer: the tokenizer's EOS and the model's (end-of-turn for chat models)."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    candidates = [tokenizer.eos_token_id, *(configured if isinstance(configured, list) else [configured])]
    return sorted({i for i in candidates if isinstance(i, int)})
