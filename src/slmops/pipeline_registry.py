"""Project pipelines: one per DVC stage, run with `kedro run --pipelines <name>`."""

from __future__ import annotations

import importlib

from kedro.framework.project import pipelines as project_pipelines
from kedro.pipeline import Pipeline

# In the order `dvc repro` runs them.
STAGES = ("base_model", "ingest", "template", "split", "train", "evaluate", "export", "evaluate_onnx", "report")


def register_pipelines() -> dict[str, Pipeline]:
    """Only the pipelines asked for: `kedro run --pipelines ingest` then never imports torch or matplotlib
    (3 of its ~4 s of start-up on 2 cores). Kedro records the request before it loads this registry."""
    requested = getattr(project_pipelines, "_requested_pipelines", None)
    names = STAGES if not requested or "__default__" in requested else [n for n in STAGES if n in requested]
    pipelines = {name: importlib.import_module(f"slmops.pipelines.{name}.pipeline").create_pipeline() for name in names}
    if len(names) == len(STAGES):
        # Everything for one export target (`--params target=...`). A bare `kedro run` is split by our CLI
        # into one run per target (commands/run.py); DVC runs the stages one by one instead.
        pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    return pipelines
