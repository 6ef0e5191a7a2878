"""Build an ONNX model for one hardware target with onnxruntime-genai's model builder."""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from slmops.config import ExportParams, TargetParams, parse
from slmops.errors import ConfigError, UnsupportedError
from slmops.modeling.bundle import ModelBundle

log = logging.getLogger(__name__)


def target_options(export_params: dict[str, Any], target: str | None) -> TargetParams:
    params: ExportParams = parse(ExportParams, export_params, "export")
    if not target or target == "none":
        raise ConfigError("no export target given: run `kedro run --pipelines export --params target=<name>` "
                          f"with one of {params.targets} (dvc repro does this for each target)")
    if target not in params.target_options:
        raise ConfigError(f"params.yaml: export.target_options has no entry for target '{target}'; "
                          f"known: {sorted(params.target_options)}")
    return params.target_options[target]


def build_onnx_model(merged_model: ModelBundle, export_params: dict[str, Any], target: str | None) -> Path:
    """Return a staging folder holding model.onnx, genai_config.json and the tokenizer files."""
    from onnxruntime_genai.models.builder import create_model, parse_extra_options

    options = target_options(export_params, target)
    staging = Path(tempfile.mkdtemp(prefix=f"slmops-onnx-{target}-"))
    cache = Path(tempfile.mkdtemp(prefix="slmops-onnx-cache-"))
    extra = [f"{key}={str(value).lower() if isinstance(value, bool) else value}"
             for key, value in options.builder_options.items()]
    started = time.perf_counter()
    builder_output = io.StringIO()
    # The builder prints a line per tensor; keep the console readable, and its output for errors.
    for name in ("onnxruntime", "onnxruntime.quantization"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(builder_output):
            prepared = parse_extra_options(None, str(merged_model.path), str(staging), options.precision,
                                           options.execution_provider, str(cache), extra)
            create_model(None, str(merged_model.path), str(staging), options.precision,
                         options.execution_provider, str(cache), **prepared)
    except Exception as error:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join(builder_output.getvalue().splitlines()[-20:])
        raise UnsupportedError(f"the ONNX model builder failed for target '{target}' "
                               f"({options.precision}, {options.execution_provider}): {error}\n{tail}") from error
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    log.info("Built %s in %.1f s", target, time.perf_counter() - started)
    return staging
