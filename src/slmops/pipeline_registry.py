"""Project pipelines: one per DVC stage, run with `kedro run --pipelines <name>`."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from slmops.pipelines.base_model import pipeline as base_model
from slmops.pipelines.evaluate import pipeline as evaluate
from slmops.pipelines.evaluate_onnx import pipeline as evaluate_onnx
from slmops.pipelines.export import pipeline as export
from slmops.pipelines.ingest import pipeline as ingest
from slmops.pipelines.report import pipeline as report
from slmops.pipelines.split import pipeline as split
from slmops.pipelines.template import pipeline as template
from slmops.pipelines.train import pipeline as train

# In the order `dvc repro` runs them.
STAGES = {
    "base_model": base_model,
    "ingest": ingest,
    "template": template,
    "split": split,
    "train": train,
    "evaluate": evaluate,
    "export": export,
    "evaluate_onnx": evaluate_onnx,
    "report": report,
}


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = {name: module.create_pipeline() for name, module in STAGES.items()}
    # Everything for one export target (`--params target=...`). A bare `kedro run` is split by our CLI
    # into one run per target (commands/run.py); DVC runs the stages one by one instead.
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    return pipelines
