"""dvc.yaml is only as right as its deps: each stage must list every module it runs and the catalog.

A stage's code is the import closure (within src/slmops, read with ast) of its Kedro pipeline, of the
project settings Kedro loads for every run (hooks: the params check and the lineage records) and the
pipeline registry, plus the module Kedro imports for each custom dataset of the catalog entries that pipeline
reads or writes (`slmops.datasets`); the catalog file itself decides where those live, so it is a dep too.
Importing `a.b.c` runs `a/__init__.py` and `a/b/__init__.py` first, so those count (with what they import:
`slmops/datasets/__init__.py` imports every dataset module), unless they hold no code (a docstring, constants).
A dep may be a folder: it covers every module under it. Fails naming each stage and file left out.
"""

from __future__ import annotations

import ast
import functools
import importlib
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

SRC = ROOT / "src"
# The pipeline's stages, and the `inputs` stage in a dvc.yaml of its own (its paths are relative to the root: wdir).
STAGES = {**yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"],
          **yaml.safe_load((ROOT / "data/00_inputs/dvc.yaml").read_text())["stages"]}
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


def _runs_code(init: Path) -> bool:
    """Whether a package's __init__.py does more than hold a docstring and constants (`__version__`)."""
    inert = (ast.Expr, ast.Assign, ast.AnnAssign)
    return not all(isinstance(node, inert) and isinstance(node.value, ast.Constant)
                   for node in ast.parse(init.read_text(encoding="utf-8")).body)


def import_closure(modules: list[str]) -> set[Path]:
    seen: set[Path] = set()
    todo = list(modules)
    while todo:
        name = todo.pop()
        parts = name.split(".")
        packages = [_module_file(".".join(parts[:i])) for i in range(1, len(parts))]
        files = [f for f in packages if f and _runs_code(f)] + [f for f in [_module_file(name)] if f]
        for file in files:
            if file not in seen:
                seen.add(file)
                todo.extend(_imported(file))
    return seen


def _dataset_modules(pipeline_name: str) -> list[str]:
    """Modules Kedro imports for the custom datasets behind the catalog entries the pipeline touches."""
    pipeline = importlib.import_module(f"slmops.pipelines.{pipeline_name}.pipeline").create_pipeline()
    kinds = (CATALOG.get(name, {}).get("type", "") for name in pipeline.datasets())
    return sorted({kind.rsplit(".", 1)[0] for kind in kinds if kind.startswith("slmops.")})


# What `kedro run` loads for every stage besides its pipeline: the settings with their hooks (params
# check, the lineage records every stage writes) and the registry that picks the pipeline.
KEDRO_PROJECT = ["slmops.settings", "slmops.pipeline_registry"]


@functools.cache
def stage_code(stage: str) -> frozenset[str]:
    name = stage.split("@")[0]
    command = STAGES[name]["cmd"]
    if command.startswith("python -m "):  # a plain module run outside Kedro (the `inputs` stage)
        return frozenset(str(f.relative_to(ROOT)) for f in import_closure([command.split()[2]]))
    files = import_closure([f"slmops.pipelines.{name}.pipeline", *_dataset_modules(name), *KEDRO_PROJECT])
    return frozenset({str(f.relative_to(ROOT)) for f in files} | {"conf/base/catalog.yml"})


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


def test_the_closure_runs_package_inits_that_hold_code():
    # Kedro imports `slmops.datasets`, whose __init__ imports every dataset module, even ones split never uses.
    code = stage_code("split")
    assert {"src/slmops/datasets/__init__.py", "src/slmops/datasets/raw_records.py",
            "src/slmops/datasets/git_revision.py"} <= code
    # An empty package marker runs nothing a stage could depend on.
    assert "src/slmops/modeling/__init__.py" not in code


def test_a_folder_dep_covers_the_files_under_it():
    assert _covered("src/slmops/datasets/jsonl.py", ["src/slmops/datasets"])
    assert not _covered("src/slmops/datasets_old/jsonl.py", ["src/slmops/datasets"])


def _paths(entries) -> list[str]:
    return [next(iter(e)) if isinstance(e, dict) else str(e) for e in entries or []]


def _upstream(stage: str) -> set[str]:
    """Stages whose outputs this stage reads, directly or through others."""
    found, todo = set(), [stage]
    while todo:
        deps = _paths(STAGES[todo.pop()]["deps"])
        for name, spec in STAGES.items():
            outs = _paths(spec.get("outs")) + _paths(spec.get("metrics")) + _paths(spec.get("plots"))
            if name not in found and any(_covered(o, deps) or _covered(d, outs) for o in outs for d in deps):
                found.add(name)
                todo.append(name)
    return found - {stage}


# Packages a stage may list whole although it imports only part of them (dvc.yaml says why).
SHARED_PACKAGES = ["src/slmops/modeling", "src/slmops/datasets"]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_whole_package_dep_adds_only_modules_that_run_upstream(stage):
    # Then editing a module the stage does not run reruns a stage before it anyway: the folder costs no extra run
    # of a stage that changing the module would not already cause.
    listed = [d for d in _paths(STAGES[stage]["deps"]) if d in SHARED_PACKAGES]
    ran = stage_code(stage).union(*(stage_code(s) for s in _upstream(stage)))
    extra = sorted(str(f.relative_to(ROOT)) for dep in listed for f in (ROOT / dep).rglob("*.py")
                   if str(f.relative_to(ROOT)) not in ran and (f.name != "__init__.py" or _runs_code(f)))
    assert not extra, f"dvc.yaml stage '{stage}' lists {listed} whole, but nothing up to it runs {extra}"


def test_upstream_follows_outputs_into_deps():
    assert {"train", "export", "evaluate", "base_model"} <= _upstream("evaluate_onnx")
    assert not {"evaluate_onnx", "report", "export"} & _upstream("train")
