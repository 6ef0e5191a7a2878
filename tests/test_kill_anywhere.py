"""kill -9 anywhere: SIGKILL `dvc repro` at random points of a full run, rerun it, and get what an
uninterrupted run gives, with no half-written artifact visible in between or in DVC's cache.

The kill points (stages and delays) are drawn from a seed: DEFAULT_SEED, or SLMOPS_KILL_SEED=<n> to try others.
Every failure message names the seed, so `SLMOPS_KILL_SEED=<n> pytest tests/test_kill_anywhere.py` replays the same
kill points. The train stage's own resume-from-checkpoint is tested in the train tests.
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

# Outputs that hold timings, dates or the code revision: they differ between any two runs. Model folders are not
# among them: their lineage records lie beside them, and PEFT's adapter card (README.md) is the same bytes in every
# process (its tags are sorted; the base is renamed to the identity the user gave), so they compare byte for byte.
VARYING = ("reports/metrics/export/", "reports/metrics/train.json", "reports/report.", "reports/figures/",
           "reports/metrics/eval.json", "reports/eval_samples.json", "reports/plots/",
           "reports/model_cards/")  # a card quotes the target's measured speed
KILLS = 3
# Draws split, train and export@cpu-int4 from this dvc.yaml's stages: a data stage, checkpoints, an ONNX folder.
DEFAULT_SEED = 9


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


def _assert_whole(project: Path, replay: str) -> None:
    """Every artifact a later stage or DVC could see is complete: staging siblings aside, nothing is cut."""
    for out in _outputs(project):
        if not out.exists():
            continue
        files = [p for p in out.rglob("*") if p.is_file()] if out.is_dir() else [out]
        if out.is_dir():
            # A model folder has its config; the split's folder (data/05_model_input) its JSON Lines files.
            assert any(p.name in ("config.json", "adapter_config.json", "genai_config.json") for p in files) or \
                any(p.suffix == ".jsonl" for p in files) or out.name == "figures", \
                f"{replay}: {out} is a folder without its config: half-written"
        for path in files:
            if path.suffix == ".jsonl":
                text = path.read_text(encoding="utf-8")
                assert text == "" or text.endswith("\n"), f"{replay}: {path} ends mid-line"
            try:
                if path.suffix == ".jsonl":
                    [json.loads(line) for line in text.splitlines()]
                elif path.suffix == ".json":
                    json.loads(path.read_text(encoding="utf-8"))
                elif path.suffix == ".safetensors":
                    from safetensors import safe_open

                    with safe_open(path, "np"):
                        pass
            except Exception as error:  # a parse error is a cut file: say which seed cut it
                raise AssertionError(f"{replay}: {path} does not parse: {error}") from error


def _assert_cache_intact(project: Path, replay: str) -> None:
    cache = project / ".dvc/cache/files/md5"
    for path in cache.rglob("*"):
        if path.is_file() and re.fullmatch(r"[0-9a-f]{30}(\.dir)?", path.name):  # DVC's own temp names aside
            digest = hashlib.md5(path.read_bytes()).hexdigest()
            assert path.parent.name + path.name.removesuffix(".dir") == digest, f"{replay}: cache object {path} is cut"


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


def kill_seed() -> int:
    return int(os.environ.get("SLMOPS_KILL_SEED", DEFAULT_SEED))


def test_sigkill_at_random_points_then_rerun_gives_the_uninterrupted_outputs(tmp_path, tiny_run):
    seed = kill_seed()
    print(f"kill seed {seed}")
    reference = tiny_run  # the uninterrupted run (read only)
    expected = _fingerprint(reference)
    stages = [line.split("'")[1] for line in run(reference, "dvc", "repro", "--dry", "--force").stdout.splitlines()
              if line.startswith("Running stage '")]

    project = _unrun_clone(reference, tmp_path / "killed")
    draw = random.Random(seed)
    killed = []

    def replay() -> str:
        return f"seed {seed} (replay: SLMOPS_KILL_SEED={seed}), killed in {killed}"

    for stage in sorted(draw.sample(stages, KILLS), key=stages.index):
        killed.append(_repro_killed(project, stage, stages, draw.uniform(0.0, 4.0)))
        _assert_whole(project, replay())
        _assert_cache_intact(project, replay())
    result = run(project, "dvc", "repro", check=False)
    assert result.returncode == 0, f"{replay()}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    stale = stale_stages(project)
    assert not stale, f"{replay()}: stages still stale after the rerun: {sorted(stale)}"
    _assert_whole(project, replay())
    _assert_cache_intact(project, replay())
    actual = _fingerprint(project)
    assert len(expected) > 20, sorted(expected)  # the comparison below is over real outputs
    differ = sorted(name for name in expected.keys() | actual.keys() if expected.get(name) != actual.get(name))
    assert not differ, f"{replay()}: outputs differ from an uninterrupted run: {differ}"


def test_the_kill_seed_is_fixed_unless_given(monkeypatch):
    monkeypatch.delenv("SLMOPS_KILL_SEED", raising=False)
    assert kill_seed() == DEFAULT_SEED
    monkeypatch.setenv("SLMOPS_KILL_SEED", "1234")
    assert kill_seed() == 1234
