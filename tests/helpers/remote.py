"""A reproduced tiny project whose default DVC remote is a local folder, as `slmops remote add` sets it up."""

from __future__ import annotations

from pathlib import Path

from project import copy_of, reproduced_tiny_project, run


def shared_project(tmp_path: Path, tmp_path_factory, tiny_model_dir, snips_rows) -> tuple[Path, Path]:
    """A reproduced project whose default remote is a local folder, pushed and committed."""
    origin = copy_of(reproduced_tiny_project(tmp_path_factory, tiny_model_dir, snips_rows), tmp_path / "origin")
    storage = tmp_path / "storage"
    result = run(origin, "slmops", "remote", "add", str(storage))
    assert "default" in result.stdout
    run(origin, "git", "commit", "-qam", "remote")
    run(origin, "dvc", "push", "--run-cache")
    return origin, storage
