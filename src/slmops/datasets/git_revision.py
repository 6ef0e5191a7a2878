"""The code revision a run was made from, for the report's lineage section."""

from __future__ import annotations

import subprocess
from typing import Any

from kedro.io import AbstractDataset


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


class GitRevisionDataset(AbstractDataset[None, dict[str, Any]]):
    """Loads {"commit": sha or None, "dirty": bool or None}; None where this is no git checkout."""

    def load(self) -> dict[str, Any]:
        commit = _git("rev-parse", "HEAD")
        status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
        return {"commit": commit, "dirty": bool(status) if status is not None else None}

    def save(self, data: None) -> None:
        raise NotImplementedError("the code revision is read from git")

    def _describe(self) -> dict[str, Any]:
        return {}
