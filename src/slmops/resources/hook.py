"""A Kedro hook that records each stage's wall time, peak memory and machine in reports/resources/stages/.

These files are DVC metrics of the project (dvc.yaml's top-level `metrics:`), not outputs of any stage:
a time that differs between two runs of the same code and data never makes a stage rerun.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from slmops.datasets.atomic import atomic_file
from slmops.resources.machine import machine_facts
from slmops.resources.process import peak_gpu_memory_mb, peak_rss_mb, process_started

STAGES_FOLDER = Path("reports/resources/stages")


def stage_name(run_params: dict[str, Any]) -> str:
    """The DVC stage a Kedro run is: its pipeline, with the matrix item (`export@cpu-int4`) when one is given."""
    pipelines = run_params.get("pipeline_names") or []
    name = "+".join(pipelines) if pipelines else "all"
    target = (run_params.get("runtime_params") or {}).get("target")
    return f"{name}@{target}" if target else name


def stage_record(stage: str, started: float, first_node: float | None, finished: float) -> dict[str, Any]:
    """``started``, ``first_node``, ``finished``: seconds since the epoch."""
    from resource import RUSAGE_CHILDREN

    return {
        "stage": stage,
        "wall_seconds": round(finished - started, 2),
        "startup_seconds": round(first_node - started, 2) if first_node else None,
        "nodes_seconds": round(finished - first_node, 2) if first_node else None,
        "peak_rss_mb": peak_rss_mb(),
        "children_peak_rss_mb": peak_rss_mb(RUSAGE_CHILDREN),  # accelerate's ranks, the ONNX builder's workers
        "peak_gpu_memory_mb": peak_gpu_memory_mb(),
        "finished_at": datetime.fromtimestamp(finished, UTC).isoformat(timespec="seconds"),
        "machine": machine_facts(),
    }


class StageResourcesHook:
    def __init__(self) -> None:
        self._root = Path.cwd()
        self._stage: str | None = None
        self._first_node: float | None = None

    @hook_impl
    def after_context_created(self, context) -> None:  # noqa: ANN001 - Kedro's KedroContext
        self._root = Path(context.project_path)

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        self._stage, self._first_node = stage_name(run_params), None

    @hook_impl
    def before_node_run(self) -> None:
        if self._first_node is None:
            self._first_node = time.time()

    @hook_impl
    def after_pipeline_run(self) -> None:
        if self._stage is None:
            return
        record = stage_record(self._stage, process_started(), self._first_node, time.time())
        with atomic_file(self._root / STAGES_FOLDER / f"{self._stage}.json") as handle:
            json.dump(record, handle, indent=2)
            handle.write("\n")
