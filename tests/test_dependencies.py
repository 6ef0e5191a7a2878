"""pyproject.toml's dependencies are what src/ imports: every distribution the code imports is declared, and every
declared one is imported, unless NOT_IMPORTED says why the code needs it without importing it."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast  # in `make test-fast`

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src/slmops"

# Declared, never imported by src/, and needed all the same: each with the reason.
NOT_IMPORTED = {
    "kedro-datasets": "conf/base/catalog.yml's `pandas.CSVDataset` entries resolve to kedro_datasets.pandas",
    "tensorboard": "torch.utils.tensorboard (train/run.py's SummaryWriter) needs it at run time",
    "pyarrow": "pandas.read_parquet's engine for `data.format: parquet` (datasets/raw_records.py)",
    "onnx-ir": "onnxruntime-genai's model builder (onnxruntime_genai/models/builder.py, builders/*.py) imports "
               "onnx_ir, and onnxruntime-genai does not declare it",
    "ruamel.yaml.clib": "DVC's YAML C parser: without it a no-op `dvc repro` is ~0.7 s slower",
}
# Extras src/ may import from, behind a guard: the `mlflow` extra (lineage/mlflow_log.py).
SOURCE_EXTRAS = ("mlflow",)


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _normalized(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement).group())


def _allowed() -> set[str]:
    return {_normalized(name) for name in NOT_IMPORTED}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _declared() -> dict[str, str]:
    return {_requirement_name(r): r for r in _project()["dependencies"]}


def _declared_in_extras() -> set[str]:
    extras = _project().get("optional-dependencies", {})
    return {_requirement_name(r) for name in SOURCE_EXTRAS for r in extras.get(name, [])}


def imported_modules(folder: Path = SOURCE) -> dict[str, set[str]]:
    """Each top-level module imported anywhere in ``folder``'s .py files (lazy imports included), with the files,
    standard library and the package itself aside."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "slmops":
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def imported_distributions() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(distribution -> files importing it, module -> files) for modules no installed distribution provides."""
    providers = packages_distributions()
    distributions: dict[str, set[str]] = {}
    unknown: dict[str, set[str]] = {}
    for module, files in imported_modules().items():
        if module not in providers:
            unknown[module] = files
        for distribution in providers.get(module, []):
            distributions.setdefault(_normalized(distribution), set()).update(files)
    return distributions, unknown


def test_the_walk_sees_the_imports_src_makes():
    modules = imported_modules()
    assert "src/slmops/commands/run.py" in modules["click"]  # a top-level import
    assert "src/slmops/lineage/hashing.py" in modules["dvc_data"]  # one inside a function
    assert not {"os", "json", "__future__", "slmops"} & set(modules)


def test_every_imported_distribution_is_declared():
    imported, unknown = imported_distributions()
    assert not unknown, f"src/ imports modules no installed distribution provides: {unknown}"
    declared = set(_declared()) | _declared_in_extras()
    missing = {name: sorted(files) for name, files in imported.items() if name not in declared}
    assert not missing, f"imported by src/ but not in pyproject.toml's dependencies: {missing}"


def test_every_declared_distribution_is_imported_or_says_why_not():
    imported, _ = imported_distributions()
    unused = sorted(set(_declared()) - set(imported) - _allowed())
    assert not unused, f"declared in pyproject.toml but never imported by src/: {unused} (remove them, or add " \
                       "each to NOT_IMPORTED with the reason the code needs it)"


def test_the_allow_list_holds_only_declared_distributions_src_does_not_import():
    imported, _ = imported_distributions()
    declared = _declared()
    assert _allowed() <= set(declared), f"not declared: {sorted(_allowed() - set(declared))}"
    assert not _allowed() & set(imported), f"imported after all: {sorted(_allowed() & set(imported))}"
    assert all(reason.strip() for reason in NOT_IMPORTED.values())


def test_every_dependency_is_pinned():
    loose = [r for r in _declared().values() if not re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+", r)]
    assert not loose, f"pin each dependency to the version the figures were measured with: {loose}"
