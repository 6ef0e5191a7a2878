"""Hardware targets: their typed options, the builder's extra options, and the checks any target gets.

Shared by the export and evaluate_onnx stages and `slmops generate` (no stage imports another's nodes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slmops.config import ExportParams, TargetParams, parse
from slmops.errors import ConfigError, UnsupportedError

# How genai_config.json names each provider under session_options.provider_options (CPU: none listed).
PROVIDER_KEYS = {"cpu": None, "cuda": "cuda", "dml": "dml", "webgpu": "webgpu"}
PACKAGES = {"cuda": "an NVIDIA GPU and the onnxruntime-genai-cuda package",
            "dml": "Windows with a DirectX 12 GPU and the onnxruntime-genai-directml package",
            "webgpu": "a GPU with WebGPU and an onnxruntime-genai build with the WebGPU provider"}


def target_options(export_params: dict[str, Any] | ExportParams, target: str | None) -> TargetParams:
    params = export_params if isinstance(export_params, ExportParams) else parse(ExportParams, export_params, "export")
    if not target or target == "none":
        raise ConfigError("no export target given: run `kedro run --pipelines export --params target=<name>` "
                          f"with one of {params.targets} (dvc repro does this for each target)")
    if target not in params.target_options:
        raise ConfigError(f"params.yaml: export.target_options has no entry for target '{target}'; "
                          f"known: {sorted(params.target_options)}")
    return params.target_options[target]


def builder_extra_options(options: TargetParams, adapter_path: Path | None = None,
                          float_nodes: list[str] | None = None) -> list[str]:
    """The builder's `--extra_options` KEY=VALUE list for this target."""
    extra: dict[str, Any] = dict(options.builder_options)
    if options.precision in ("int4", "int8"):
        extra["block_size"] = options.block_size
        if options.accuracy_level is not None:
            extra["accuracy_level"] = options.accuracy_level
    excluded = options.nodes_to_exclude() + list(float_nodes or [])
    if excluded:
        extra["nodes_to_exclude"] = ",".join(excluded)
    if adapter_path is not None:
        extra["adapter_path"] = str(adapter_path)
    return [f"{key}={str(value).lower() if isinstance(value, bool) else value}" for key, value in extra.items()]


def check_structure(folder: Path, options: TargetParams) -> dict[str, Any]:
    """What can be checked of a model without running it: the graph loads, the config is valid, the provider is right."""
    import onnx

    folder = Path(folder)
    config_path = folder / "genai_config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        decoder = config["model"]["decoder"]
        providers = [key for entry in decoder["session_options"].get("provider_options", []) for key in entry]
        graph_file = folder / decoder["filename"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UnsupportedError(f"{config_path}: not a valid onnxruntime-genai config ({error})") from error
    expected = PROVIDER_KEYS[options.execution_provider]
    if providers != ([expected] if expected else []):
        raise UnsupportedError(f"{config_path}: names providers {providers}, expected "
                               f"{[expected] if expected else 'none (CPU)'} for {options.execution_provider}")
    try:
        graph = onnx.load(str(graph_file), load_external_data=False).graph
    except Exception as error:  # onnx raises DecodeError, OSError, ...: all mean an unusable file
        raise UnsupportedError(f"{graph_file}: the ONNX graph does not load ({error})") from error
    if not any(o.name == decoder["outputs"]["logits"] for o in graph.output):
        raise UnsupportedError(f"{graph_file}: the graph has no '{decoder['outputs']['logits']}' output")
    return {"graph_loads": True, "genai_config_valid": True, "provider": options.execution_provider,
            "provider_options": providers, "nodes": len(graph.node)}
