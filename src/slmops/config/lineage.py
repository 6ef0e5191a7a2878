"""params.yaml section `lineage`: optional MLflow logging of each run, beside DVC."""

from __future__ import annotations

from pydantic import Field

from slmops.config.base import Section


class MlflowParams(Section):
    enabled: bool = False
    tracking_uri: str | None = None  # None: a local SQLite store, mlruns/mlflow.db in the project
    experiment: str = Field("slmops", min_length=1)
    log_models: bool = True  # copy the model folders (adapter, merged model, ONNX targets) into the run


class LineageParams(Section):
    mlflow: MlflowParams = MlflowParams()
