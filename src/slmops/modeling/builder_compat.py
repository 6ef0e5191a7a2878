"""What the pinned onnxruntime-genai builder misreads in a transformers 5 model folder, and the fixes.

The builder reads config.json with transformers 5, but some of its model classes still expect the
older layouts. Each fix below rewrites config.json only, in a staging folder beside symlinks to the
original weights and tokenizer files (nothing is copied, the user's folder is untouched), and names
what it changed so the export log says it. The family matrix (tests/test_family_matrix.py) proves
each fixed family token for token against PyTorch.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def config_fixes(config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The config the builder reads right, and what was changed (empty: nothing to change)."""
    fixed, changes = json.loads(json.dumps(config)), []
    rope = fixed.get("rope_parameters")
    # Phi-3 LongRoPE: the builder picks its magnitude-scaling policy from the pre-v5 key "type".
    if isinstance(rope, dict) and rope.get("rope_type") == "longrope" and "type" not in rope:
        fixed["rope_parameters"] = {**rope, "type": "longrope"}
        changes.append("rope_parameters.type = longrope")
    # LayerNorm families name their epsilon layer_norm_eps (Phi-2) or norm_eps (Nemotron); the builder
    # reads only rms_norm_eps and otherwise uses 1e-6, which changes every normalised activation.
    for key in ("layer_norm_eps", "norm_eps"):
        if key in config and "rms_norm_eps" not in config:
            fixed["rms_norm_eps"] = config[key]
            changes.append(f"rms_norm_eps = {key} ({config[key]})")
            break
    # OLMo's LayerNorm has no parameter for it: transformers hard-codes 1e-5 (OlmoLayerNorm).
    if (config.get("architectures") or [""])[0] == "OlmoForCausalLM" and "rms_norm_eps" not in fixed:
        fixed["rms_norm_eps"] = 1e-5
        changes.append("rms_norm_eps = 1e-5 (OLMo's fixed LayerNorm epsilon)")
    return fixed, changes


@contextlib.contextmanager
def builder_source(source: Path) -> Iterator[tuple[Path, list[str]]]:
    """``source`` as the builder should read it: the folder itself, or a staged copy with a fixed config.json."""
    config_file = Path(source) / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        yield Path(source), []  # the builder's own error names the problem
        return
    fixed, changes = config_fixes(config)
    if not changes:
        yield Path(source), []
        return
    staged = Path(tempfile.mkdtemp(prefix="slmops-builder-source-"))
    try:
        for item in Path(source).iterdir():
            if item.name != "config.json":
                (staged / item.name).symlink_to(item.resolve())
        (staged / "config.json").write_text(json.dumps(fixed, indent=2) + "\n", encoding="utf-8")
        yield staged, changes
    finally:
        shutil.rmtree(staged, ignore_errors=True)


@contextlib.contextmanager
def builder_code_fixes() -> Iterator[None]:
    """Fixes of the builder's code that no config.json can make, applied while it runs.

    - SmolLM3: a layer without rope (``no_rope_layers`` 0, every fourth layer in the released models)
      still got a rotary node asking for the position_ids input the builder had removed (KeyError
      'position_ids'): such a layer now gets no rotary embedding, as in transformers.
    - Gemma-3 (text): transformers 5 keeps rope settings per layer type, and re-nests them when it
      reads any config.json; the builder wants the global ones flat and the local theta as
      ``rope_local_base_freq`` (KeyError 'rope_type'): the config object is flattened before it reads it.
    """
    # The builder imports its model classes as the top-level package `builders` (it puts its own
    # folder on sys.path): patch the classes it actually instantiates.
    from onnxruntime_genai.models import builder

    smollm3, gemma3 = builder.SmolLM3Model, builder.Gemma3Model
    originals = (smollm3.make_attention, gemma3.__init__)

    def make_attention(self: Any, layer_id: int, attention: Any, root_input: Any, **kwargs: Any) -> Any:
        rope = self.attention_attrs["rope"]
        self.attention_attrs["rope"] = rope and bool(self.no_rope_layers[layer_id])
        try:
            return originals[0](self, layer_id, attention, root_input, **kwargs)
        finally:
            self.attention_attrs["rope"] = rope

    def gemma3_init(self: Any, config: Any, *args: Any, **kwargs: Any) -> None:
        rope = getattr(config, "rope_parameters", None)
        if isinstance(rope, dict) and "full_attention" in rope:
            config.rope_local_base_freq = rope.get("sliding_attention", rope["full_attention"])["rope_theta"]
            config.rope_parameters = dict(rope["full_attention"])
        originals[1](self, config, *args, **kwargs)

    smollm3.make_attention, gemma3.__init__ = make_attention, gemma3_init
    try:
        yield
    finally:
        smollm3.make_attention, gemma3.__init__ = originals
