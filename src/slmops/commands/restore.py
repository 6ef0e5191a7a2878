"""Put a DVC stage's outputs back exactly as `dvc.lock` recorded them, from DVC's cache.

`dvc repro` deletes a stage's outputs before running it (they are not `persist`, so the run-cache
works). When the stage then fails, this brings the previous versions back: the hashes come from
`dvc.lock`, the bytes from DVC's cache (`.dvc/cache/files/md5/ab/cdef...`; a folder is a `.dir`
listing of its files). DVC's run-cache also commits `cache: false` outputs (metrics, plots) to that
cache; when one is not there (a fresh clone; the report stage, which DVC does not run-cache), git's committed
copy is used (a file only if its hash matches).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import yaml

from slmops.datasets.atomic import replace_dir, staging_path


def stage_outputs(root: Path, stage: str) -> list[dict]:
    lock_file = root / "dvc.lock"
    if not lock_file.is_file():
        return []
    stages = (yaml.safe_load(lock_file.read_text(encoding="utf-8")) or {}).get("stages") or {}
    return list((stages.get(stage) or {}).get("outs") or [])


def cache_root(root: Path) -> Path:
    """Where DVC keeps md5-addressed content (`cache.dir` may move it)."""
    from dvc.repo import Repo

    repo = Repo(str(root))
    try:
        return Path(repo.cache.local.path)
    finally:
        repo.close()


def _object(cache: Path, md5: str) -> Path:
    return cache / md5[:2] / md5[2:]


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _git_copy(root: Path, path: str, md5: str) -> bytes | None:
    shown = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=root, capture_output=True, check=False)
    return shown.stdout if shown.returncode == 0 and _md5(shown.stdout) == md5 else None


def _restore_file(root: Path, cache: Path, path: str, md5: str) -> bool:
    target = root / path
    source = _object(cache, md5)
    data = source.read_bytes() if source.is_file() else _git_copy(root, path, md5)
    if data is None:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(target)
    staging.write_bytes(data)
    os.replace(staging, target)
    return True


def _git_dir(root: Path, path: str) -> bool:
    """A `cache: false` folder DVC's run-cache did not keep (the report stage's): git's committed copy, if any."""
    tracked = subprocess.run(["git", "ls-tree", "-d", "HEAD", path], cwd=root, capture_output=True, text=True,
                             check=False)
    if tracked.returncode or not tracked.stdout.strip():
        return False
    return subprocess.run(["git", "checkout", "HEAD", "--", path], cwd=root, capture_output=True,
                          check=False).returncode == 0


def _restore_dir(root: Path, cache: Path, path: str, md5: str) -> bool:
    listing = _object(cache, md5)
    if not listing.is_file():
        return _git_dir(root, path)
    entries = json.loads(listing.read_text(encoding="utf-8"))
    if not all(_object(cache, entry["md5"]).is_file() for entry in entries):
        return False
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(target)
    try:
        for entry in entries:
            destination = staging / entry["relpath"]
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_object(cache, entry["md5"]), destination)  # cache objects are read-only: copy bytes only
        staging.mkdir(exist_ok=True)  # an empty folder has no entries
        replace_dir(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


def restore_stage(root: Path, stage: str) -> tuple[list[str], list[str]]:
    """Restore every output of ``stage`` recorded in dvc.lock. Returns (restored, not found) paths."""
    outs = [out for out in stage_outputs(root, stage) if out.get("md5")]
    if not outs:
        return [], []
    cache = cache_root(root)
    restored, missing = [], []
    for out in outs:
        path, md5 = out["path"], out["md5"]
        done = (_restore_dir if md5.endswith(".dir") else _restore_file)(root, cache, path, md5)
        (restored if done else missing).append(path)
    return restored, missing
