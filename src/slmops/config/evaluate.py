"""params.yaml section `evaluate`."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from slmops.config.base import Section


class GenerationParams(Section):
    """How answers are generated, applied alike to PyTorch (transformers) and ONNX (onnxruntime-genai)."""

    do_sample: bool = False  # greedy unless true; temperature, top_p and top_k apply only when sampling
    seed: int = 0  # sampling seed: the same seed and rows give the same answers
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(50, ge=0)  # 0: no top-k limit
    repetition_penalty: float = Field(1.0, gt=0)  # > 1 discourages repeating tokens (1: off)
    no_repeat_ngram_size: int = Field(0, ge=0)  # never repeat an n-gram of this size (0: off)
    stop_strings: list[str] = []  # answers end at the first of these (besides the end-of-turn token)

    @field_validator("stop_strings")
    @classmethod
    def _no_empty_stop_string(cls, value: list[str]) -> list[str]:
        if any(not s for s in value):
            raise ValueError("an empty stop string would end every answer before it starts")
        return value


class EvaluateParams(Section):
    max_new_tokens: int = Field(16, gt=0)
    batch_size: int = Field(16, gt=0)
    max_rows: int | None = Field(None, gt=0)
    sample_count: int = Field(8, ge=0)
    task: Literal["auto", "classification", "generation"] = "auto"
    answer_pattern: str | None = None
    base_with_label_list: bool = False
    bootstrap_resamples: int = Field(1000, ge=1)
    bootstrap_seed: int = 0
    generation: GenerationParams = GenerationParams()

    @field_validator("answer_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a valid regular expression ({error})") from None
        return value or None
