"""kill -9 anywhere: SIGKILL `dvc repro` at random points of a full run, rerun it, and get what an
uninterrupted run gives, with no half-written artifact visible in between or in DVC's cache.

The kill points are drawn from a seed (printed on failure) among the stages, so successive CI runs cover
every stage; the train stage's own resume-from-checkpoint is tested in the train tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from project import project_env, run, stale_stages

# Outputs that hold timings, dates or the code revision: they differ between any two runs.
# PEFT's adapter model card lists modules in set order, which varies by process.
VARYING = ("data/06_models/adapter/README.md", "reports/metrics/export/", "reports/metrics/train.json", "reports/report.", "reports/figures/",
           "reports/metrics/eval.json", "reports/eval_samples.json", "reports/plots/",
           "reports/model_cards/")  # a card quotes the target's measured speed
KILLS = 3


def _unrun_clone(reference: Path, destination: Path) -> Path:
    """A git clone of the tiny run at the commit it was made from: same code, params, data and base model
    (models/tiny), with no dvc.lock and an empty DVC cache, so nothing can be restored instead of run."""
    run(reference.parent, "git", "clone", "-q", str(reference), str(destination))
    run(destination, "git", "checkout", "-q", "HEAD~1")
    return destination


def _outputs(project: Path) -> list[Path]:
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    paths = []
    for spec in stages.values():
        for kind in ("outs", "metrics", "plots"):
            for entry in spec.get(kind, []):
                paths.append(project / (next(iter(entry)) if isinstance(entry, dict) else entry).replace(
                    "${item.target}", "cpu-int4"))
    return paths


def _content(path: Path, project: Path) -> bytes:
    # The reference and the killed run live in different folders: a mention of its own folder (none is expected:
    # the base model is named models/tiny) compares as <project>.
    if path.name == "adapter_config.json":  # PEFT writes target_modules from a set: its order varies by process
        config = json.loads(path.read_text())
        config = {k: sorted(v) if isinstance(v, list) and all(isinstance(x, str) for x in v) else v
                  for k, v in config.items()}
        return json.dumps(config, sort_keys=True).encode().replace(str(project).encode(), b"<project>")
    return path.read_bytes().replace(str(project).encode(), b"<project>")


def _fingerprint(project: Path) -> dict[str, str]:
    files = {}
    for out in _outputs(project):
        for path in ([p for p in out.rglob("*") if p.is_file()] if out.is_dir() else [out] if out.exists() else []):
            name = str(path.relative_to(project))
            if not name.startswith(VARYING) and "/.tmp" not in name:
                files[name] = hashlib.sha256(_content(path, project)).hexdigest()
    return files


def _assert_whole(project: Path) -> None:
    """Every artifact a later stage or DVC could see is complete: staging siblings aside, nothing is cut."""
    for out in _outputs(project):
        if not out.exists():
            continue
        files = [p for p in out.rglob("*") if p.is_file()] if out.is_dir() else [out]
        if out.is_dir():
            assert any(p.name in ("config.json", "adapter_config.json", "genai_config.json") for p in files) or \
                out.name == "figures", f"{out} is a folder without its config: half-written"
        for path in files:
            if path.suffix == ".jsonl":
                text = path.read_text(encoding="utf-8")
                assert text == "" or text.endswith("\n"), f"{path} ends mid-line"
                [json.loads(line) for line in text.splitlines()]
            elif path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".safetensors":
                from safetensors import safe_open

                with safe_open(path, "np"):
                    pass


def _assert_cache_intact(project: Path) -> None:
    cache = project / ".dvc/cache/files/md5"
    for path in cache.rglob("*"):
        if path.is_file() and re.fullmatch(r"[0-9a-f]{30}(\.dir)?", path.name):  # DVC's own temp names aside
            digest = hashlib.md5(path.read_bytes()).hexdigest()
            assert path.parent.name + path.name.removesuffix(".dir") == digest, f"cache object {path} is cut"


def _repro_killed(project: Path, stage: str, order: list[str], delay: float) -> str:
    """Start `dvc repro`, SIGKILL its process group `delay` s after `stage` (or a later one) starts."""
    process = subprocess.Popen(["dvc", "repro"], cwd=project, env=project_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    running = None
    try:
        for line in process.stdout:
            if line.startswith("Running stage '"):
                running = line.split("'")[1]
                if order.index(running) >= order.index(stage):
                    break
        time.sleep(delay)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the run may have finished before the kill
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return running or "none"


@pytest.mark.parametrize("seed", [int(os.environ.get("SLMOPS_KILL_SEED", time.time_ns() % 10_000))])
def test_sigkill_at_random_points_then_rerun_gives_the_uninterrupted_outputs(tmp_path, tiny_run, seed):
    reference = tiny_run  # the uninterrupted run (read only)
    expected = _fingerprint(reference)
    stages = [line.split("'")[1] for line in run(reference, "dvc", "repro", "--dry", "--force").stdout.splitlines()
              if line.startswith("Running stage '")]

    project = _unrun_clone(reference, tmp_path / "killed")
    draw = random.Random(seed)
    killed = []
    for stage in sorted(draw.sample(stages, KILLS), key=stages.index):
        killed.append(_repro_killed(project, stage, stages, draw.uniform(0.0, 4.0)))
        _assert_whole(project)
        _assert_cache_intact(project)
    result = run(project, "dvc", "repro", check=False)
    assert result.returncode == 0, f"seed {seed}, killed in {killed}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    assert not stale_stages(project)
    _assert_whole(project)
    _assert_cache_intact(project)
    actual = _fingerprint(project)
    assert len(expected) > 20, sorted(expected)  # the comparison below is over real outputs
    differ = sorted(name for name in expected.keys() | actual.keys() if expected.get(name) != actual.get(name))
    assert not differ, f"seed {seed}, killed in {killed}: outputs differ from an uninterrupted run: {differ}"
