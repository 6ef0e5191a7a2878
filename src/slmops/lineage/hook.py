"""A Kedro hook that writes a lineage record for every artifact a node saves; nodes stay untouched.

It knows each node's inputs and outputs and the catalog's file paths, so no stage can forget it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from slmops.lineage.environment import code_revision, library_versions
from slmops.lineage.hashing import content_hash, own_files
from slmops.lineage.record import FORMAT_VERSION, read_record, relative, write_record
from slmops.lineage.source import base_model_source

# Datasets that are no artifact: scratch folders, the run's bookkeeping, values in memory.
NOT_ARTIFACTS = {"WorkFolderDataset", "OptionalYAMLDataset", "GitRevisionDataset", "MemoryDataset"}
# Folders loaded file by file (figures, metrics per target): not artifacts of their own (each file is a
# metric or plot of its stage), so no stage declares a record for them.
NO_RECORD_INSIDE = {"BinaryFolderDataset", "JSONFolderDataset"}
BASE_MODEL = "base_model"  # the catalog name of the materialized base model (one word, one meaning)
REPORT = "report_markdown"


class LineageHook:
    def __init__(self) -> None:
        self._catalog: Any = None
        self._root = Path.cwd()
        self._params: dict[str, Any] = {}
        self._run: dict[str, Any] = {}
        self._hashes: dict[tuple, str] = {}
        self._saved: set[str] = set()

    @hook_impl
    def after_context_created(self, context) -> None:  # noqa: ANN001 - Kedro's KedroContext
        self._root = Path(context.project_path)
        self._params = context.params

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], catalog: Any) -> None:
        self._catalog = catalog
        self._run = {"pipeline": ",".join(run_params.get("pipeline_names") or []) or "__default__",
                     "runtime_params": dict(run_params.get("runtime_params") or {})}

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Any) -> None:
        self._saved.add(dataset_name)
        path = self._artifact_path(dataset_name, output=True)
        if path is None:
            return
        record = self.build_record(dataset_name, path, node)
        write_record(path, record)

    @hook_impl
    def after_pipeline_run(self) -> None:
        """Log the run to MLflow once its report is written, if lineage.mlflow.enabled."""
        from slmops.config import MlflowParams, parse

        settings = parse(MlflowParams, self._param("lineage.mlflow"), "lineage.mlflow")
        report = self._artifact_path(REPORT, output=True)
        if not settings.enabled or REPORT not in self._saved or report is None:
            return
        from slmops.lineage.mlflow_log import log_run

        log_run(self._root, self._params, settings, report, self._model_folders())

    def _model_folders(self) -> dict[str, Path]:
        folders = {name: self._artifact_path(name, output=False) for name in ("adapter", "merged_model")}
        onnx = self._artifact_path("onnx_model", output=False)
        onnx_root = Path(self._dataset("onnx_model")._describe()["path"]).parent if onnx is None else onnx.parent  # noqa: SLF001
        onnx_root = onnx_root if onnx_root.is_absolute() else self._root / onnx_root
        for target in self._param("export.targets") or []:
            folders[f"onnx-{target}"] = onnx_root / target
        return {name: path for name, path in folders.items() if path is not None and path.is_dir()}

    def build_record(self, dataset_name: str, path: Path, node: Any) -> dict[str, Any]:
        inputs, params = [], {}
        for name in node.inputs:
            if name == "parameters":
                params.update(self._params)
            elif name.startswith("params:"):
                params[name.removeprefix("params:")] = self._param(name.removeprefix("params:"))
            else:
                entry = self._input_entry(name)
                if entry is not None:
                    inputs.append(entry)
        record = {
            "format": FORMAT_VERSION,
            "artifact": relative(path, self._root),
            "dataset": dataset_name,
            "made_by": {"pipeline": self._run.get("pipeline"), "node": node.name,
                        "runtime_params": self._run.get("runtime_params", {})},
            "files": own_files(path),
            "inputs": inputs,
            "params": params,
            "base_model": self._base_model(inputs),
            "code": code_revision(self._root),
            "versions": library_versions(),
        }
        if dataset_name == BASE_MODEL:
            record["source"] = base_model_source(self._params.get("base_model", {}), self._root)
        return record

    def _param(self, dotted: str) -> Any:
        value: Any = self._params
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def _dataset(self, name: str) -> Any:
        catalog = self._catalog
        return catalog.get(name) if catalog is not None and name in catalog else None

    def _is_artifact(self, dataset: Any) -> bool:
        # Volatile: figures of one run (time, memory), rewritten after the report that reads them; no DVC dep.
        volatile = (getattr(dataset, "metadata", None) or {}).get("volatile")
        return dataset is not None and type(dataset).__name__ not in NOT_ARTIFACTS and not volatile

    def _artifact_path(self, name: str, output: bool) -> Path | None:
        dataset = self._dataset(name)
        kind = type(dataset).__name__
        if not self._is_artifact(dataset):
            return None
        described = dataset._describe()  # noqa: SLF001 - Kedro's own way to say where a dataset lives
        location = described.get("filepath") or described.get("path") or described.get("source")
        if location is None:
            return None
        path = Path(str(location))
        path = path if path.is_absolute() else self._root / path
        if not path.exists() or (output and path.is_dir() and kind in NO_RECORD_INSIDE):
            return None
        return path

    def _input_entry(self, name: str) -> dict[str, Any] | None:
        dataset = self._dataset(name)
        if not self._is_artifact(dataset):
            return None
        path = self._artifact_path(name, output=False)
        if path is None:  # e.g. a dataset on a hub: named, not hashed
            described = {k: str(v) for k, v in dataset._describe().items() if v is not None}  # noqa: SLF001
            return {"name": name, "path": None, "md5": None, "described": described}
        return {"name": name, "path": relative(path, self._root), "md5": self._hash(path)}

    def _hash(self, path: Path) -> str:
        # Inputs are DVC deps that do not change during a run: hash each once per process.
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in self._hashes:
            self._hashes[key] = content_hash(path)
        return self._hashes[key]

    def _base_model(self, inputs: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The base model's identity and content hash, for every artifact made from it."""
        for entry in inputs:
            if entry["path"] is None:
                continue
            upstream = read_record(self._root / entry["path"])
            if entry["name"] == BASE_MODEL:
                source = (upstream or {}).get("source") or {}
                return {"name_or_path": source.get("name_or_path"), "md5": entry["md5"]}
            if upstream and upstream.get("base_model"):
                return upstream["base_model"]
        return None
