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
    """Token ids that end an answer: the tokenizer's EOS, the model's generation_config EOS list, and the
    chat template's end-of-turn token, which only the tokenizer may know (Phi-3 ends turns with <|end|>
    while its EOS is <|endoftext|>; a Gemma or Llama-3 config may list just <eos> / <|end_of_text|>)."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    candidates = [tokenizer.eos_token_id, *(configured if isinstance(configured, list) else [configured]),
                  *end_of_turn_ids(tokenizer)]
    return sorted({i for i in candidates if isinstance(i, int)})


def end_of_turn_ids(tokenizer: Any) -> list[int]:
    """The special token the chat template writes first after an assistant answer ([] without a template).

    Found by rendering a short exchange followed by one more user turn, so a template that ends the
    answer with plain text and opens the next turn with a control token (Nemotron: "\\n<extra_id_1>")
    gives that token. onnxruntime-genai must stop there too (genai_config.json ``eos_token_id``).
    """
    if not getattr(tokenizer, "chat_template", None):
        return []
    from jinja2 import TemplateError

    answer = "\x01slmops-answer\x01"
    exchange = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": answer}]
    # Thinking off as in the template stage, so the answer is not wrapped in a think block.
    options = {"tokenize": False, "add_generation_prompt": False, "enable_thinking": False}
    try:
        text = tokenizer.apply_chat_template(exchange + [{"role": "user", "content": "Bye"}], **options)
    except TemplateError:  # a template that refuses a third turn: the exchange alone
        text = tokenizer.apply_chat_template(exchange, **options)
    after = text[text.index(answer) + len(answer):]
    found = [(after.find(token), token) for token in _special_tokens(tokenizer) if token in after]
    if not found:
        return []
    return [tokenizer.convert_tokens_to_ids(min(found, key=lambda f: (f[0], -len(f[1])))[1])]


def _special_tokens(tokenizer: Any) -> set[str]:
    tokens = set(getattr(tokenizer, "all_special_tokens", []) or [])
    for added in (getattr(tokenizer, "added_tokens_decoder", {}) or {}).values():
        if getattr(added, "special", False):
            tokens.add(str(added))
    return {t for t in tokens if t}
