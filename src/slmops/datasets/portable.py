"""Artifacts name things the way the user did, never by a path of the machine that made them.

The same inputs then give the same bytes on any checkout, and a pulled artifact does not point at a
folder that only existed where it was built.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

# Small text files a library may write a path into (configs, model cards); weights and vocabularies
# are skipped: they hold no paths, and a big vocabulary can hold a short path-like token by chance.
_TEXT_SUFFIXES = {".json", ".md", ".txt", ".yaml", ".yml", ".jinja"}
_SKIPPED = {"tokenizer.json", "vocab.json", "merges.txt"}


def portable_model_name(name_or_path: str, project_root: Path | None = None) -> str:
    """The base model's identity as the user gave it: an embedded name, a hub id, or a project-relative path.

    A path inside the project is written relative to it (POSIX separators); a hub id or embedded name
    is kept as is. A path outside the project cannot be made portable and is kept as the user wrote it.
    """
    if name_or_path.startswith("embedded:"):
        return name_or_path
    root = (project_root or Path.cwd()).resolve()
    path = Path(name_or_path).expanduser()
    if not path.exists():
        return name_or_path  # a hub id
    resolved = (root / path).resolve() if not path.is_absolute() else path.resolve()
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:
        return name_or_path


class MachinePathError(RuntimeError):
    """An artifact about to be saved holds an absolute path of this machine (a bug, not the user's doing)."""


def check_no_machine_paths(folder: Path, machine_paths: Iterable[Path | str]) -> None:
    """Raise naming the file if any config or card in ``folder`` mentions one of ``machine_paths``."""
    needles = {str(p).rstrip("/") + "/" for p in machine_paths if str(p).strip("/")}
    needles |= {n.rstrip("/") + '"' for n in needles}
    for file in sorted(Path(folder).rglob("*")):
        if not file.is_file() or file.suffix not in _TEXT_SUFFIXES or file.name in _SKIPPED:
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        for needle in needles:
            if needle in text:
                where = needle.rstrip('/"')
                raise MachinePathError(f"{file.name} would hold the machine path {where}; "
                                       "artifacts must name their inputs portably (this is a bug in slmops)")
