"""Build an ONNX model for one hardware target with onnxruntime-genai's model builder.

`export.adapters: merged` builds from the merged model. `separate` builds the base once with LoRA
branches whose weights are graph inputs, and writes each adapter as its own `.onnx_adapter`.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from slmops.config import ExportParams, TargetParams, parse
from slmops.errors import InputDataError, SlmopsError, UnsupportedError
from slmops.modeling.builder_compat import builder_code_fixes, builder_source
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.generation_settings import end_of_turn_ids
from slmops.modeling.model_card import render_model_card
from slmops.modeling.onnx_adapters import (adapter_tensors, lora_float_nodes, make_lora_inputs,
                                           write_onnx_adapter)
from slmops.modeling.onnx_targets import builder_extra_options, check_structure, target_options
from slmops.modeling.unrounded_merge import merge_unrounded, needs_unrounded_merge

log = logging.getLogger(__name__)
OWN_ADAPTER = "tuned"


def run_builder(source: Path, staging: Path, target: str, options: TargetParams, extra: list[str]) -> None:
    from onnxruntime_genai.models.builder import create_model, parse_extra_options

    cache = Path(tempfile.mkdtemp(prefix="slmops-onnx-cache-"))
    builder_output = io.StringIO()
    # The builder prints a line per tensor; keep the console readable, and its output for errors.
    for name in ("onnxruntime", "onnxruntime.quantization"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        with builder_source(source) as (readable, fixes), builder_code_fixes(), \
                contextlib.redirect_stdout(builder_output):
            if fixes:
                log.info("config.json as the builder reads it: %s", "; ".join(fixes))
            prepared = parse_extra_options(None, str(readable), str(staging), options.precision,
                                           options.execution_provider, str(cache), extra)
            create_model(None, str(readable), str(staging), options.precision, options.execution_provider,
                         str(cache), **prepared)
    except Exception as error:
        tail = "\n".join(builder_output.getvalue().splitlines()[-20:])
        raise UnsupportedError(f"the ONNX model builder failed for target '{target}' ({options.precision}, "
                               f"{options.execution_provider}, architecture {_architecture(source)}): {error}\n{tail}"
                               ) from error
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _architecture(source: Path) -> str:
    try:
        return ", ".join(json.loads((Path(source) / "config.json").read_text(encoding="utf-8"))["architectures"])
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown (no readable config.json)"


def adapter_folders(adapter: Path, extra_adapters_dir: Path, names: list[str]) -> dict[str, Path]:
    folders = {OWN_ADAPTER: Path(adapter)}
    for name in names:
        folder = Path(extra_adapters_dir) / name
        if not (folder / "adapter_config.json").is_file():
            raise InputDataError(str(folder), "extra adapter not found: put the PEFT adapter folder there "
                                 "(adapter_config.json, adapter_model.safetensors)")
        folders[name] = folder
    return folders


def write_separate_adapters(staging: Path, folders: dict[str, Path]) -> list[str]:
    """Base graph LoRA weights become inputs; each adapter becomes adapters/<name>.onnx_adapter."""
    lora_inputs = make_lora_inputs(staging / "model.onnx")
    out = staging / "adapters"
    out.mkdir()
    # Adapters are checked before any is written, so a foreign one fails the target without a partial set.
    tensors = {name: adapter_tensors(folder, lora_inputs) for name, folder in folders.items()}
    for name, values in tensors.items():
        write_onnx_adapter(values, out / f"{name}.onnx_adapter")
    (out / "lora_inputs.json").write_text(json.dumps(lora_inputs, indent=2) + "\n", encoding="utf-8")
    return list(tensors)


def stop_at_end_of_turn(staging: Path, tokenizer: Any) -> None:
    """genai_config.json's eos_token_id gains the chat template's end-of-turn token (Phi-3 <|end|>, Gemma
    <end_of_turn>, ...), where PyTorch's generation stops too; the builder takes only the model's own EOS ids."""
    path = staging / "genai_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    eos = config["model"].get("eos_token_id")
    known = [eos] if isinstance(eos, int) else list(eos or [])
    extra = [i for i in end_of_turn_ids(tokenizer) if i not in known]
    if extra:
        config["model"]["eos_token_id"] = known + extra
        path.write_text(json.dumps(config, indent=4) + "\n", encoding="utf-8")


def build_onnx_model(merged_model: ModelBundle, base_model: ModelBundle, adapter: Path, extra_adapters_dir: Path,
                     export_params: dict[str, Any], base_model_params: dict[str, Any], train_params: dict[str, Any],
                     target: str | None) -> Path:
    """Return a staging folder holding model.onnx, genai_config.json, tokenizer files, adapters, README.md."""
    params: ExportParams = parse(ExportParams, export_params, "export")
    options = target_options(params, target)
    staging = Path(tempfile.mkdtemp(prefix=f"slmops-onnx-{target}-"))
    unrounded = None
    started = time.perf_counter()
    try:
        if params.adapters == "merged":
            source = merged_model.path
            if needs_unrounded_merge(params.float_weights, options.precision, params.adapters, train_params):
                unrounded = Path(tempfile.mkdtemp(prefix=f"slmops-unrounded-{target}-"))
                source = merge_unrounded(base_model.path, adapter, merged_model.path, unrounded,
                                         base_model.trust_remote_code)
            run_builder(source, staging, target, options, builder_extra_options(options))
            adapters: list[str] = []
        else:
            folders = adapter_folders(adapter, extra_adapters_dir, params.extra_adapters)
            float_nodes = lora_float_nodes(adapter) if options.precision in ("int4", "int8") else []
            run_builder(base_model.path, staging, target, options,
                        builder_extra_options(options, adapter_path=Path(adapter), float_nodes=float_nodes))
            adapters = write_separate_adapters(staging, folders)
        stop_at_end_of_turn(staging, merged_model.tokenizer)
        check_structure(staging, options)
        identity = {"base_model": base_model_params.get("name_or_path", "unknown"),
                    "method": train_params.get("method", "lora"),
                    "quantization_aware": train_params.get("quantization_aware"), "adapter_mode": params.adapters,
                    "float_weights": "unrounded" if unrounded else "merged_model"}
        (staging / "README.md").write_text(render_model_card(target, options, identity, adapters), encoding="utf-8")
        # What evaluate_onnx needs to write the complete card, without reading train/base_model params itself.
        (staging / "model_card.json").write_text(json.dumps({"identity": identity, "adapters": adapters}, indent=2)
                                                 + "\n", encoding="utf-8")
    except (SlmopsError, OSError, RuntimeError, ValueError):
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if unrounded is not None:
            shutil.rmtree(unrounded, ignore_errors=True)
    log.info("Built %s in %.1f s", target, time.perf_counter() - started)
    return staging
