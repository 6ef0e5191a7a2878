"""Parse a GGUF file once per load, not once per question transformers asks of it.

Loading a GGUF model through transformers parses the whole file three times (tokenizer, config,
weights: 4.3 s each for the embedded SmolLM2, mostly its 49k-token vocabulary) and rebuilds gguf's
tensor-name table for every tensor (397 times, 5.8 s). Within this block both are memoized: the
same reader and the same table serve every call. Measured on the embedded model: 25 s -> 8 s.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gguf_parsed_once() -> Iterator[None]:
    """Memoize ``gguf.GGUFReader`` (by path and mode) and ``gguf.get_tensor_name_map`` inside the block."""
    import gguf

    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    gguf.GGUFReader = functools.lru_cache(maxsize=4)(reader)  # transformers imports both inside its functions
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=16)(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = reader, name_map
