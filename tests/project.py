"""Helpers to run this project as a user does, in a throwaway copy: `dvc repro`, `kedro run`."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent


def project_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(KEDRO_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1", PYTHONWARNINGS="ignore")
    return env


def run(project: Path, *command: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=project, env=project_env(), capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


# The `inputs` stage (data/00_inputs/dvc.yaml) is always_changed: every repro runs it and `dvc status` always lists it; what it writes
# changes only when an input did, so nothing after it reruns unless something moved.
ALWAYS_RUN = "data/00_inputs/dvc.yaml:inputs"


def stale_stages(project: Path) -> set[str]:
    """The stages `dvc status` says would rerun, the always-run `inputs` stage aside."""
    import json

    return set(json.loads(run(project, "dvc", "status", "--json").stdout)) - {ALWAYS_RUN}


def stages_run(output: str) -> list[str]:
    """The stages a `dvc repro` output says it ran, in order."""
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")]


def read_params(project: Path) -> dict:
    return yaml.safe_load((project / "params.yaml").read_text())


def write_params(project: Path, params: dict) -> None:
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def tiny_params(params: dict, model_dir: Path, data_file: str) -> dict:
    """The default params, shrunk to run in seconds on the tiny model."""
    params = dict(params)
    params["base_model"] = dict(params["base_model"], name_or_path=str(model_dir))
    params["data"] = dict(params["data"], source=data_file)
    params["split"] = dict(params["split"], validation_fraction=0.25)
    params["train"] = dict(params["train"], epochs=1, batch_size=8, save_steps=2,
                           lora=dict(params["train"]["lora"], r=4, alpha=8))
    params["evaluate"] = dict(params["evaluate"], max_new_tokens=4, batch_size=8, sample_count=3)
    # One target: the shipped list has seven; tests that need more name them.
    params["export"] = dict(params["export"], targets=["cpu-int4"], speed={"prompt_count": 2, "new_tokens": 8})
    return params


@contextmanager
def edited_params(project: Path, changes: dict[str, object]):
    """params.yaml with ``{"section.key": value}`` changes applied, restored afterwards."""
    original = read_params(project)
    params = copy.deepcopy(original)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = params
        for part in parents:
            node = node[part]
        node[leaf] = value
    write_params(project, params)
    try:
        yield params
    finally:
        write_params(project, original)


def tiny_rows(snips_rows: list[dict], per_label: int = 8) -> list[dict]:
    """A few SNIPS rows per intent (8 x 7 = 56 by default), in a stable order."""
    by_label: dict[str, list] = {}
    for row in snips_rows:
        by_label.setdefault(row["label"], []).append(row)
    return [r for label in sorted(by_label) for r in by_label[label][:per_label]]


_REPRODUCED: dict[str, Path] = {}
TINY_MODEL = "models/tiny"  # the base model as a user's own folder in the project: params name it relatively


def new_tiny_project(root: Path, tiny_model_dir: Path, snips_rows: list[dict]) -> Path:
    """A git + DVC project on the tiny model (its folder committed at models/tiny, so clones have it) and 56 SNIPS
    rows, committed on `main` and not run yet."""
    import json
    import shutil

    from conftest import ROOT, copy_project

    root.mkdir(parents=True, exist_ok=True)
    copy_project(root)
    shutil.copy2(ROOT / ".gitignore", root / ".gitignore")
    (root / "conf/local/.gitkeep").touch()
    shutil.copytree(tiny_model_dir, root / TINY_MODEL)
    (root / "data/01_raw/tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tiny_rows(snips_rows)))
    write_params(root, tiny_params(read_params(root), Path(TINY_MODEL), "data/01_raw/tiny.jsonl"))
    for command in (("git", "init", "-q", "-b", "main"), ("git", "config", "user.email", "t@example.com"),
                    ("git", "config", "user.name", "test"), ("dvc", "init", "-q"),
                    ("dvc", "config", "core.analytics", "false"), ("git", "add", "-A"),
                    ("git", "commit", "-qm", "tiny project")):
        run(root, *command)
    return root


def reproduced_tiny_project(tmp_path_factory, tiny_model_dir: Path, snips_rows: list[dict]) -> Path:
    """`new_tiny_project` after one `dvc repro`, its results committed as "tiny run"; built once per test session.

    Read it in place; tests that change it (even by running DVC or Kedro in it) take their own `copy_of(...)`,
    which is far cheaper than another `dvc repro`. The run's lineage records name the "tiny project" commit.
    """
    if "root" not in _REPRODUCED:
        root = new_tiny_project(tmp_path_factory.mktemp("reproduced") / "tiny", tiny_model_dir, snips_rows)
        for command in (("dvc", "repro"), ("git", "add", "-A"), ("git", "commit", "-qm", "tiny run")):
            run(root, *command)
        _REPRODUCED["root"] = root
    return _REPRODUCED["root"]


def copy_of(project: Path, destination: Path) -> Path:
    """A full copy (git history, DVC cache, artifacts) to change freely."""
    import shutil

    shutil.copytree(project, destination, symlinks=True)
    return destination
