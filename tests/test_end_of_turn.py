"""onnxruntime-genai stops where PyTorch does: at the chat template's end of turn, not only at the tokenizer's EOS."""

from __future__ import annotations

import json

import pytest
from family_tokenizers import tokenizer_for

from slmops.modeling.genai import GenaiModel
from slmops.pipelines.export.nodes import stop_at_end_of_turn

pytestmark = pytest.mark.fast  # in `make test-fast`


@pytest.mark.parametrize("family, end", [("phi3", "<|end|>"), ("gemma2", "<end_of_turn>")])
def test_the_exported_config_and_the_runtime_stop_at_the_end_of_turn(tmp_path, smollm2_tokenizer, family, end):
    tokenizer = tokenizer_for(family, smollm2_tokenizer)
    end_id = tokenizer.convert_tokens_to_ids(end)
    assert end_id != tokenizer.eos_token_id  # the trap: the tokenizer's EOS is another token
    (tmp_path / "genai_config.json").write_text(json.dumps({"model": {"eos_token_id": [tokenizer.eos_token_id]}}))
    stop_at_end_of_turn(tmp_path, tokenizer)
    eos = json.loads((tmp_path / "genai_config.json").read_text())["model"]["eos_token_id"]
    assert eos[0] == tokenizer.eos_token_id and end_id in eos
    stop_at_end_of_turn(tmp_path, tokenizer)  # idempotent: the id is not added twice
    assert json.loads((tmp_path / "genai_config.json").read_text())["model"]["eos_token_id"] == eos
    # The answer counts as ended (not cut by max_new_tokens) when it stops there.
    runtime = GenaiModel.__new__(GenaiModel)  # its stop ids need only the tokenizer, not a loaded model
    runtime.tokenizer = tokenizer
    assert {tokenizer.eos_token_id, end_id} <= runtime.end_ids


def test_smollm2s_config_is_left_as_the_builder_wrote_it(tmp_path, smollm2_tokenizer):
    config = {"model": {"eos_token_id": smollm2_tokenizer.eos_token_id}}
    (tmp_path / "genai_config.json").write_text(json.dumps(config))
    stop_at_end_of_turn(tmp_path, smollm2_tokenizer)  # <|im_end|> is already its EOS
    assert json.loads((tmp_path / "genai_config.json").read_text()) == config
