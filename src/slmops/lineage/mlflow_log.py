"""Log a finished run to MLflow (optional, `lineage.mlflow` in params.yaml): params, metrics, chains, models.

Without a tracking URI it uses a local SQLite store in ``mlruns/`` (MLflow 3 refuses new plain-file
stores), so no server is needed; ``mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db`` shows it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from slmops.config import MlflowParams
from slmops.errors import UnsupportedError
from slmops.lineage.chain import build_chain
from slmops.lineage.record import read_record
from slmops.lineage.render import markdown

log = logging.getLogger(__name__)


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def numeric_metrics(metrics_dir: Path) -> dict[str, float]:
    """Every number in reports/metrics/**.json, named by file and key path (e.g. ``eval.tuned.f1``)."""
    found = {}
    for file in sorted(metrics_dir.rglob("*.json")):
        if file.name.endswith(".lineage.json"):
            continue
        name = file.relative_to(metrics_dir).with_suffix("").as_posix().replace("/", ".")
        for key, value in flatten(json.loads(file.read_text(encoding="utf-8")), name + ".").items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                found[key] = float(value)
    return found


def tracking_uri(settings: MlflowParams, root: Path) -> str:
    if settings.tracking_uri:
        return settings.tracking_uri
    (root / "mlruns").mkdir(exist_ok=True)
    return f"sqlite:///{(root / 'mlruns' / 'mlflow.db').as_posix()}"


def log_run(root: Path, params: dict[str, Any], settings: MlflowParams, report: Path,
            models: dict[str, Path]) -> str:
    """Log one run; return its MLflow run id. ``models`` maps a name to a model folder."""
    try:
        import mlflow
    except ImportError:
        raise UnsupportedError("lineage.mlflow.enabled is true but MLflow is not installed: "
                               "pip install 'slmops[mlflow]' (or set it to false)") from None
    uri = tracking_uri(settings, root)
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(settings.experiment)
    if experiment is None:
        artifacts = (root / "mlruns" / "artifacts").resolve().as_uri() if not settings.tracking_uri else None
        experiment_id = client.create_experiment(settings.experiment, artifact_location=artifacts)
    else:
        experiment_id = experiment.experiment_id
    record = read_record(report) or {}
    code = record.get("code") or {}
    tags = {"slmops.commit": str(code.get("commit")), "slmops.dirty": str(code.get("dirty")),
            "slmops.base_model": str((record.get("base_model") or {}).get("name_or_path"))}
    run = client.create_run(experiment_id, tags=tags, run_name=f"slmops {str(code.get('commit'))[:8]}")
    run_id = run.info.run_id
    try:
        flat = {k: json.dumps(v) if isinstance(v, (list, dict)) else str(v) for k, v in flatten(params).items()}
        _log_params(client, run_id, flat)
        _log_metrics(client, run_id, numeric_metrics(root / "reports" / "metrics"))
        chains = {"report": build_chain(report, root)}
        chains.update({name: build_chain(folder, root) for name, folder in models.items()
                       if read_record(folder) is not None})
        for name, chain in chains.items():
            client.log_dict(run_id, chain, f"lineage/{name}.json")
            client.log_text(run_id, markdown(chain), f"lineage/{name}.md")
        client.log_artifact(run_id, str(report))
        if settings.log_models:
            for name, folder in models.items():
                if folder.is_dir():
                    client.log_artifacts(run_id, str(folder), f"models/{name}")
    except Exception:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    log.info("Logged the run to MLflow (%s), run id %s", uri, run_id)
    return run_id


def _log_params(client: Any, run_id: str, flat: dict[str, str]) -> None:
    from mlflow.entities import Param

    items = [Param(key, value[:6000]) for key, value in flat.items()]
    for start in range(0, len(items), 100):  # MLflow's batch limit
        client.log_batch(run_id, params=items[start:start + 100])


def _log_metrics(client: Any, run_id: str, metrics: dict[str, float]) -> None:
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    items = [Metric(key, value, now, 0) for key, value in metrics.items()]
    for start in range(0, len(items), 1000):
        client.log_batch(run_id, metrics=items[start:start + 1000])
