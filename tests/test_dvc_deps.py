"""dvc.yaml is only as right as its deps: each stage must list every module it runs and the catalog.

A stage's code is the import closure (within src/slmops, read with ast) of its Kedro pipeline, of the
project settings Kedro loads for every run (hooks: the params check and the lineage records) and the
pipeline registry, plus the modules defining the custom datasets of the catalog entries that pipeline
reads or writes; the catalog file itself decides where those live, so it is a dep too. Fails naming each stage and file left out.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

SRC = ROOT / "src"
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
CATALOG = yaml.safe_load((ROOT / "conf/base/catalog.yml").read_text())


def _module_file(name: str) -> Path | None:
    path = SRC.joinpath(*name.split("."))
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def _imported(file: Path) -> set[str]:
    """Modules a file imports (also inside functions), including `from package import submodule`."""
    package = ".".join(file.relative_to(SRC).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] == "slmops"}


def import_closure(modules: list[str]) -> set[Path]:
    seen: set[Path] = set()
    todo = [f for f in map(_module_file, modules) if f]
    while todo:
        file = todo.pop()
        if file in seen:
            continue
        seen.add(file)
        todo.extend(f for f in map(_module_file, _imported(file)) if f and f not in seen)
    return seen


def _dataset_modules(pipeline_name: str) -> list[str]:
    """Modules defining the custom datasets behind the catalog entries the pipeline touches."""
    pipeline = importlib.import_module(f"slmops.pipelines.{pipeline_name}.pipeline").create_pipeline()
    exported = importlib.import_module("slmops.datasets")
    modules = []
    for name in pipeline.datasets():
        kind = CATALOG.get(name, {}).get("type", "")
        if kind.startswith("slmops.datasets."):
            modules.append(getattr(exported, kind.rsplit(".", 1)[1]).__module__)
    return modules


# What `kedro run` loads for every stage besides its pipeline: the settings with their hooks (params
# check, the lineage records every stage writes) and the registry that picks the pipeline.
KEDRO_PROJECT = ["slmops.settings", "slmops.pipeline_registry"]


def stage_code(stage: str) -> set[str]:
    name = stage.split("@")[0]
    files = import_closure([f"slmops.pipelines.{name}.pipeline", *_dataset_modules(name), *KEDRO_PROJECT])
    return {str(f.relative_to(ROOT)) for f in files} | {"conf/base/catalog.yml"}


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in deps)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_dvc_deps_cover_the_stage_code_and_catalog(stage):
    deps = [str(d) for d in STAGES[stage]["deps"]]
    missing = sorted(path for path in stage_code(stage) if not _covered(path, deps))
    assert not missing, f"dvc.yaml stage '{stage}' runs {missing} but does not list them under deps"


def test_the_closure_follows_imports_and_datasets():
    # The split stage writes through JSONLinesDataset, whose module imports the atomic writer and the framing.
    code = stage_code("split")
    assert {"src/slmops/pipelines/split/nodes.py", "src/slmops/datasets/jsonl.py", "src/slmops/datasets/atomic.py",
            "src/slmops/config/data.py", "conf/base/catalog.yml"} <= code
    assert not any("pipelines/train" in path for path in code)
