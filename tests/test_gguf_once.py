"""Loading from a GGUF file parses it once inside `gguf_parsed_once`, with the same result."""

from __future__ import annotations


def test_the_file_is_parsed_once_and_gguf_is_restored_after(monkeypatch, smollm2_tokenizer):
    import gguf
    from transformers import AutoTokenizer

    from slmops.modeling.sources import resolve_model_source
    from slmops.pipelines.base_model.gguf_once import gguf_parsed_once

    parsed = []
    reader = gguf.GGUFReader

    class CountingReader(reader):
        def __init__(self, *args, **kwargs):
            parsed.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(gguf, "GGUFReader", CountingReader)
    source = resolve_model_source("embedded:SmolLM2-135M-Instruct")
    with gguf_parsed_once():
        first = AutoTokenizer.from_pretrained(source.location, gguf_file=source.gguf_file)
        again = AutoTokenizer.from_pretrained(source.location, gguf_file=source.gguf_file)
    assert len(parsed) == 1  # two loads, one parse
    assert first.get_vocab() == again.get_vocab() == smollm2_tokenizer.get_vocab()
    assert gguf.GGUFReader is CountingReader  # what was there before the block is back
