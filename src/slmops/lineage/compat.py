"""Warn when an artifact was made with library versions known not to read each other's output.

Known breaks: onnxruntime-genai changes its model format (genai_config.json, operators) between
0.x minor releases, and transformers changes config and tokenizer files between major releases.
"""

from __future__ import annotations

import warnings
from importlib import metadata
from pathlib import Path

from slmops.lineage.record import read_record


class LineageVersionWarning(UserWarning):
    """An artifact was made by a library version the installed one may not read correctly."""


def _release(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _breaking(library: str, made: str, installed: str) -> bool:
    made_release, installed_release = _release(made), _release(installed)
    if library == "onnxruntime-genai":  # pre-1.0: a minor release may change the model format
        return made_release[:2] != installed_release[:2] if made_release[:1] == (0,) else made_release[:1] != installed_release[:1]
    return made_release[:1] != installed_release[:1]


CHECKED = ("transformers", "onnxruntime-genai")


def incompatible_versions(artifact: Path) -> list[tuple[str, str, str]]:
    """(library, version that made it, version installed) for each known-breaking difference."""
    record = read_record(artifact)
    if not record:
        return []
    found = []
    for library in CHECKED:
        made = (record.get("versions") or {}).get(library)
        if not made:
            continue
        try:
            installed = metadata.version(library)
        except metadata.PackageNotFoundError:
            continue
        if _breaking(library, made, installed):
            found.append((library, made, installed))
    return found


def warn_if_incompatible(artifact: Path) -> None:
    for library, made, installed in incompatible_versions(artifact):
        warnings.warn(f"{artifact} was made with {library} {made} but {library} {installed} is installed: "
                      f"files from a different {'minor' if library == 'onnxruntime-genai' else 'major'} "
                      f"release may not load or may load wrongly; rebuild it (`dvc repro`) or install "
                      f"{library}=={made}", LineageVersionWarning, stacklevel=3)
