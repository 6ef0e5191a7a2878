"""`kedro run`, as DVC stages and Kedro users call it.

- A user error (SlmopsError) prints one line and exits 2, no traceback.
- A failed or interrupted run of named pipelines (what each DVC stage runs) puts their outputs back
  from DVC's cache as dvc.lock recorded them: DVC deleted them before running the stage.
- With no `--pipelines`, the whole pipeline runs for every target in `export.targets`.
- Parameters live in params.yaml only: a `conf/<env>/parameters*` file stops the run at once.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml

from slmops.commands.restore import restore_stage
from slmops.errors import ConfigError, SlmopsError

# Everything before the per-target stages, in the order `dvc repro` runs them.
BEFORE_EXPORT = ["base_model", "ingest", "template", "split", "train", "evaluate"]
PER_TARGET = ["export", "evaluate_onnx"]
NODE_FILTERS = ("tags", "node_names", "to_nodes", "from_nodes", "from_inputs", "to_outputs", "namespaces")


def _unwrap(error: BaseException) -> SlmopsError | None:
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, SlmopsError):
        cause = cause.__cause__ or cause.__context__
    return cause


def check_no_local_parameters(root: Path) -> None:
    """Kedro would merge conf/<env>/parameters* over params.yaml, where DVC cannot see them."""
    found = sorted(str(p.relative_to(root)) for p in (root / "conf").glob("*/parameters*"))
    if found:
        raise ConfigError(f"{found[0]}: parameters live in params.yaml only (DVC tracks that file, so cached "
                          "results stay true); delete this file and use `dvc exp run -S key=value` for a "
                          "one-off change, or edit params.yaml")


def export_targets(root: Path) -> list[str]:
    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8")) or {}
    targets = (params.get("export") or {}).get("targets") or []
    if not targets:
        raise ConfigError("params.yaml: export.targets: empty: name at least one target")
    return [str(t) for t in targets]


def plan_runs(root: Path, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """The `kedro run` calls that together do what was asked (one, unless the whole pipeline has several targets)."""
    params = dict(kwargs.get("params") or {})
    if kwargs.get("pipelines") or kwargs.get("pipeline") or "target" in params:
        return [kwargs]
    targets = export_targets(root)
    if len(targets) == 1:
        return [{**kwargs, "params": {**params, "target": targets[0]}}]
    if _stops_before_export(kwargs):  # the target is never read: any one will do
        return [{**kwargs, "params": {**params, "target": targets[0]}}]
    if any(kwargs.get(name) for name in NODE_FILTERS):
        raise ConfigError(f"export.targets has {len(targets)} targets ({', '.join(targets)}): with node filters, "
                          "name one with `--params target=<name>` (or run them all with `dvc repro`)")
    runs = [{**kwargs, "pipelines": BEFORE_EXPORT}]
    runs += [{**kwargs, "pipelines": PER_TARGET, "params": {**params, "target": t}} for t in targets]
    return runs + [{**kwargs, "pipelines": ["report"]}]


def _stops_before_export(kwargs: dict[str, Any]) -> bool:
    """Only `--to-nodes`/`--nodes` filters, each naming a node of a stage before `export`."""
    named = [*(kwargs.get("to_nodes") or []), *(kwargs.get("node_names") or [])]
    if not named or any(kwargs.get(name) for name in NODE_FILTERS if name not in ("to_nodes", "node_names")):
        return False
    import importlib

    before = {node.name for stage in BEFORE_EXPORT
              for node in importlib.import_module(f"slmops.pipelines.{stage}.pipeline").create_pipeline().nodes}
    return all(name in before for name in named)


def _stages(kwargs: dict[str, Any]) -> list[str]:
    """The DVC stages an explicit `--pipelines` run stands for (`export@cpu-int4` for a matrix stage)."""
    names = list(kwargs.get("pipelines") or ([kwargs["pipeline"]] if kwargs.get("pipeline") else []))
    target = (kwargs.get("params") or {}).get("target")
    return [f"{name}@{target}" if name in PER_TARGET and target else name for name in names]


def _raise_interrupt(signum: int, frame: Any) -> None:  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt(f"signal {signum}")


def run_project(kedro_run: Callable[..., Any], root: Path, **kwargs: Any) -> None:
    # `dvc queue kill` and CI cancellations send SIGTERM: treat it like Ctrl-C so outputs are restored.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        check_no_local_parameters(root)
        runs = plan_runs(root, kwargs)
    except SlmopsError as error:
        click.secho(f"error: {error}", fg="red", err=True)
        sys.exit(2)
    # Only runs of named pipelines (each DVC stage's) restore: a whole-pipeline run deletes nothing, every
    # dataset writes atomically, and the stages it finished stay finished.
    restore = bool(kwargs.get("pipelines") or kwargs.get("pipeline"))
    for one in runs:
        try:
            kedro_run(**one)
        except BaseException as error:
            if restore:
                _restore(root, one)
            cause = _unwrap(error)
            if cause is None:
                raise
            click.secho(f"error: {cause}", fg="red", err=True)
            sys.exit(2)


def _restore(root: Path, kwargs: dict[str, Any]) -> None:
    for stage in _stages(kwargs):
        try:
            restored, missing = restore_stage(root, stage)
        except Exception as error:  # never hide the run's own error behind this one
            click.echo(f"note: {stage}: could not restore its previous outputs ({error}); `dvc checkout {stage}` "
                       "brings them back", err=True)
            continue
        if restored:
            click.echo(f"note: restored {stage}'s previous outputs from DVC's cache: {', '.join(restored)}", err=True)
        if missing:
            click.echo(f"note: {stage}: not in DVC's cache, left as they are: {', '.join(missing)}", err=True)
