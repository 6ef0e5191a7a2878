"""Batched generation with the evaluate settings, on the tiny random Llama with the real tokenizer."""

from __future__ import annotations

import pytest

from slmops.config import GenerationParams
from slmops.errors import ConfigError
from slmops.modeling.generation import generate_answers
from slmops.modeling.generation_settings import genai_search_options, hf_generate_kwargs
from slmops.pipelines.evaluate.prompts import with_label_list

PROMPTS = [f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"
           for text in ("play some jazz", "will it rain tomorrow in the city of Paris", "hi")]


def test_batched_answers_equal_one_at_a_time_and_are_cut_off_at_the_limit(tiny_bundle):
    batched = generate_answers(tiny_bundle, PROMPTS, max_new_tokens=5, batch_size=3)
    single = [generate_answers(tiny_bundle, [p], max_new_tokens=5, batch_size=1)[0] for p in PROMPTS]
    assert [g.text for g in batched] == [g.text for g in single]  # order kept despite sorting by length
    # A random model rarely says end-of-turn within 6 tokens: those rows ran into the limit.
    assert all(g.truncated == (g.new_tokens == 5) for g in batched)


def test_stop_strings_end_the_answer_and_it_is_not_truncated(tiny_bundle):
    prompt = ["Summarize: the cat sat on the mat"]  # the random model answers " mat mat mat ..."
    free = generate_answers(tiny_bundle, prompt, max_new_tokens=8, batch_size=1)[0]
    assert free.text.startswith(" mat mat") and free.truncated
    cut = generate_answers(tiny_bundle, prompt, 8, 1, GenerationParams(stop_strings=["t m"]))[0]
    # transformers also matches a stop string that begins in the prompt ("mat" + " mat"): it stops at once.
    assert free.text.startswith(cut.text) and "t m" not in cut.text
    assert cut.new_tokens < 8 and not cut.truncated


def test_sampling_is_reproducible_with_its_seed(tiny_bundle):
    def sample(seed: int) -> list[str]:
        settings = GenerationParams(do_sample=True, seed=seed, temperature=1.5, top_k=0)
        return [g.text for g in generate_answers(tiny_bundle, PROMPTS[:2], 6, 2, settings)]

    assert sample(1) == sample(1) and sample(1) != sample(2)


def test_the_same_settings_reach_both_engines(smollm2_tokenizer):
    settings = GenerationParams(do_sample=True, seed=7, temperature=0.7, top_p=0.9, top_k=40,
                                repetition_penalty=1.2, no_repeat_ngram_size=3, stop_strings=["###"])
    hf = hf_generate_kwargs(settings, smollm2_tokenizer, 12, [2])
    genai = genai_search_options(settings, max_length=140)
    shared = {"do_sample": True, "temperature": 0.7, "top_p": 0.9, "top_k": 40, "repetition_penalty": 1.2,
              "no_repeat_ngram_size": 3}
    assert shared.items() <= hf.items() and shared.items() <= genai.items()
    assert hf["max_new_tokens"] == 12 and hf["stop_strings"] == ["###"] and hf["eos_token_id"] == [2]
    assert genai["max_length"] == 140 and genai["random_seed"] == 7
    greedy = genai_search_options(GenerationParams(), max_length=20)
    assert greedy["do_sample"] is False and "temperature" not in greedy


def test_label_list_goes_right_after_the_users_text():
    example = {"id": "r1", "input": "play jazz", "prompt": "<|im_start|>user\nplay jazz<|im_end|>\n<|im_start|>assistant\n"}
    prompt = with_label_list(example, ["GetWeather", "PlayMusic"])
    assert prompt == ("<|im_start|>user\nplay jazz\n\nAnswer with exactly one of these labels: GetWeather, "
                      "PlayMusic.<|im_end|>\n<|im_start|>assistant\n")
    with pytest.raises(ConfigError, match="base_with_label_list"):
        with_label_list(dict(example, input="not in the prompt"), ["A"])


def test_onnx_and_pytorch_generate_alike_with_the_same_settings(tmp_path, tiny_model_dir):
    """Greedy answers with a repetition penalty and a no-repeat n-gram size match token for token.

    (Sampling is reproducible on each engine with its seed, but the engines draw differently.)
    """
    from slmops.datasets import StagedFolderDataset
    from slmops.modeling.bundle import ModelBundle
    from slmops.modeling.genai import GenaiModel
    from slmops.pipelines.export.nodes import build_onnx_model

    targets = {"targets": ["cpu-fp32"], "target_options": {"cpu-fp32": {"precision": "fp32", "execution_provider": "cpu"}}}
    bundle = ModelBundle(path=tiny_model_dir)
    staging = build_onnx_model(bundle, bundle, tiny_model_dir, tiny_model_dir, targets, {"name_or_path": "tiny-llama"},
                               {"method": "lora", "quantization_aware": None}, "cpu-fp32")
    StagedFolderDataset(str(tmp_path / "onnx")).save(staging)
    onnx_model, prompt = GenaiModel(tmp_path / "onnx", bundle.tokenizer), "Summarize: the cat sat on the mat"
    for settings in (GenerationParams(repetition_penalty=1.3), GenerationParams(no_repeat_ngram_size=2)):
        onnx = onnx_model.answer([prompt], 8, settings=settings)[0][0]
        pytorch = generate_answers(bundle, [prompt], 8, 1, settings)[0].text
        assert onnx == pytorch and not pytorch.startswith(" mat mat")  # the settings changed the answer
