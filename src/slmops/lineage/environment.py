"""What made an artifact besides its inputs: the code revision and the library versions."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

# Recorded when the process has imported them (so "where used"), as distribution name → module name.
USED_LIBRARIES = {
    "torch": "torch", "transformers": "transformers", "peft": "peft", "trl": "trl", "accelerate": "accelerate",
    "onnxruntime": "onnxruntime", "onnxruntime-genai": "onnxruntime_genai",
}
# Always recorded: the tools that ran every stage.
RUNNERS = ("kedro", "dvc")
# Where code lives: uncommitted changes here make a run "dirty" (params and data are recorded apart).
CODE_PATHS = ("src", "conf", "pyproject.toml", "dvc.yaml")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for distribution, module in USED_LIBRARIES.items():
        if module in sys.modules:
            versions[distribution] = _version(distribution)
    for distribution in RUNNERS:
        versions[distribution] = _version(distribution)
    return versions


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def code_revision(root: Path) -> dict[str, Any]:
    """{"commit": sha or None, "dirty": bool or None}: dirty when the code differs from the commit."""
    commit = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    if not commit:
        return {"commit": None, "dirty": None}
    status = _git(root, "status", "--porcelain", "--", *CODE_PATHS)
    return {"commit": commit, "dirty": bool(status) if status is not None else None}
