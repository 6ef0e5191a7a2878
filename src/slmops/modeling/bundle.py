"""A causal LM and its tokenizer, loaded from a folder only when first used."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class ModelBundle:
    """Either built in memory (``model``/``tokenizer`` given) or backed by an HF folder (``path``).

    Loading lazily lets a node that only needs the folder (the ONNX builder) skip reading weights.
    """

    def __init__(self, model: Any = None, tokenizer: Any = None, path: Path | None = None,
                 trust_remote_code: bool = False):
        if model is None and path is None:
            raise ValueError("a ModelBundle needs a model or a path")
        self._model, self._tokenizer = model, tokenizer
        self.path = Path(path) if path is not None else None
        self._trust_remote_code = trust_remote_code

    @property
    def model(self) -> Any:
        if self._model is None:
            import torch
            from transformers import AutoModelForCausalLM

            self._model = AutoModelForCausalLM.from_pretrained(
                self.path, dtype=torch.float32, trust_remote_code=self._trust_remote_code, use_safetensors=True
            )
            self._model.eval()
        return self._model

    @property
    def trust_remote_code(self) -> bool:
        return self._trust_remote_code

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.path, trust_remote_code=self._trust_remote_code)
        return self._tokenizer
