"""What `benchmarks/export_speed.py --variants` tries on the first target (cpu-int4): each a builder option or an
onnxruntime-genai session option, measured side by side with the target as params.yaml builds it.

A builder variant is a new build (typed target fields or builder_options overridden); a session variant links
the target's files and edits only its genai_config.json (`model.decoder.session_options`; keys other than
onnxruntime-genai's own are passed to onnxruntime as session config entries).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

# name: (builder overrides: TargetParams fields, or builder_options.<key>), (session_options overrides)
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # Thread counts are `--threads` settings (export.runtime.threads, overlaid at load time), not variants.
    "no spinning": ({}, {"session.intra_op.allow_spinning": "0"}),
    "threads=2+no spinning": ({}, {"intra_op_num_threads": 2, "session.intra_op.allow_spinning": "0"}),
    "graph opt extended": ({}, {"graph_optimization_level": "ORT_ENABLE_EXTENDED"}),
    "accuracy_level=1 (fp32 act.)": ({"accuracy_level": 1}, {}),
    "accuracy_level=3 (bf16 act.)": ({"accuracy_level": 3}, {}),
    "block_size=64": ({"block_size": 64}, {}),
    "block_size=128": ({"block_size": 128}, {}),
    "fuse_mlp_gate_up": ({"builder_options.fuse_mlp_gate_up": True}, {}),
    "prune_lm_head": ({"builder_options.prune_lm_head": True}, {}),
    # The builder shares the tied embedding with the int4 LM head by default (GatherBlockQuantized); an int8 or
    # float LM head needs its own embedding (int8 with sharing builds a graph onnxruntime rejects).
    "unshared embeddings": ({"builder_options.shared_embeddings": False}, {}),
    "int8 lm_head": ({"builder_options.matmul_mixed_precision": "last_matmul:int8",
                      "builder_options.shared_embeddings": False}, {}),
    "fp32 lm_head": ({"keep_float": ["lm_head"], "builder_options.shared_embeddings": False}, {}),
    "fuse_qkv=false": ({"builder_options.fuse_qkv": False}, {}),
    "fuse_mlp_gate_up+prune_lm_head": ({"builder_options.fuse_mlp_gate_up": True,
                                        "builder_options.prune_lm_head": True}, {}),
}


def variant_options(options: Any, overrides: dict[str, Any]) -> Any:
    """The target's typed options with the variant's builder overrides applied (validated like params.yaml)."""
    fields = {k: v for k, v in overrides.items() if not k.startswith("builder_options.")}
    builder = {**options.builder_options,
               **{k.split(".", 1)[1]: v for k, v in overrides.items() if k.startswith("builder_options.")}}
    return type(options).model_validate({**options.model_dump(exclude_unset=True), **fields,
                                         "builder_options": builder})


def with_session_options(folder: Path, session: dict[str, Any], variant: Path) -> Path:
    """A folder linking ``folder``'s files whose genai_config.json has these session options."""
    variant.mkdir()
    for item in folder.iterdir():
        (variant / item.name).symlink_to(item.resolve())
    (variant / "genai_config.json").unlink()
    config = json.loads((folder / "genai_config.json").read_text())
    config["model"]["decoder"]["session_options"].update(session)
    (variant / "genai_config.json").write_text(json.dumps(config))
    return variant


def shipped_gguf() -> Path:
    from slmops.config import EMBEDDED_MODEL
    from slmops.modeling.sources import resolve_model_source

    source = resolve_model_source(EMBEDDED_MODEL)
    return Path(source.location) / source.gguf_file


class LlamaBench:
    """llama.cpp's llama-bench on the shipped GGUF: one call per slot, so it alternates with the other engines.

    Each round times `tg{n}` (decode only, from an empty context), `pp{p}` (the prompt alone) and `pp{p}+tg{n}`;
    the figures are converted to this benchmark's definitions (generated tok/s = new tokens / whole time).
    """

    def __init__(self, binary: str, prompt_tokens: int, new_tokens: int, threads: int | None, repetitions: int = 1):
        self.binary, self.gguf = binary, shipped_gguf()
        self.prompt_tokens, self.new_tokens, self.threads, self.repetitions = prompt_tokens, new_tokens, threads, repetitions
        self.samples: dict[str, list[float]] = {}

    def round(self) -> None:
        command = [self.binary, "-m", str(self.gguf), "-p", str(self.prompt_tokens), "-n", str(self.new_tokens),
                   "-pg", f"{self.prompt_tokens},{self.new_tokens}", "-r", str(self.repetitions), "-o", "json"]
        if self.threads:
            command += ["-t", str(self.threads)]
        rows = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
        for row in rows:
            name = (f"pp{row['n_prompt']}+tg{row['n_gen']}" if row["n_prompt"] and row["n_gen"]
                    else f"pp{row['n_prompt']}" if row["n_prompt"] else f"tg{row['n_gen']}")
            self.samples.setdefault(name, []).extend(ns / 1e9 for ns in row["samples_ns"])

    def figures(self) -> dict[str, float]:
        """first token ms (prompt + one decode step), decode-only tok/s (tg), generated tok/s (pp+tg)."""
        mean = {name: sum(s) / len(s) for name, s in self.samples.items()}
        p, n = self.prompt_tokens, self.new_tokens
        decode = n / mean[f"tg{n}"]
        return {"first_token_ms": 1000 * (mean[f"pp{p}"] + 1 / decode), "decode": decode,
                "generated": n / mean[f"pp{p}+tg{n}"], "llama_bench_pg_ts": (p + n) / mean[f"pp{p}+tg{n}"]}
