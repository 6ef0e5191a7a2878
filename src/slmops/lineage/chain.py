"""An artifact's chain back to the raw data, and checking it against the files on disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmops.lineage.hashing import file_md5, folder_hashes
from slmops.lineage.record import find_artifact, read_record, relative


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) holding dvc.yaml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file() or (folder / "params.yaml").is_file():
            return folder
    return here


def build_chain(path: Path | str, root: Path | None = None) -> dict[str, Any]:
    """The record of the artifact ``path`` belongs to, each input's own chain nested under ``lineage``.

    A relative ``path`` is taken from the working directory; ``root`` defaults to the project holding it.
    """
    given = Path(path).absolute()
    root = project_root(root or (given if given.is_dir() else given.parent))
    artifact = find_artifact(given, root, shown=str(path))
    return _chain(root, relative(artifact, root), depth=0)


def _chain(root: Path, artifact: str, depth: int) -> dict[str, Any]:
    record = read_record(root / artifact) or {}
    inputs = []
    for entry in record.get("inputs", []):
        nested = None
        if entry.get("path") and depth < 32 and read_record(root / entry["path"]) is not None:
            nested = _chain(root, entry["path"], depth + 1)
        inputs.append({**entry, "lineage": nested})
    return {**record, "artifact": artifact, "inputs": inputs}


@dataclass(frozen=True)
class Mismatch:
    path: str  # the file (or input) that no longer matches
    recorded: str | None
    actual: str | None
    why: str

    def __str__(self) -> str:
        return f"{self.path}: {self.why} (recorded {self.recorded or '-'}, now {self.actual or 'missing'})"


def verify_chain(chain: dict[str, Any], root: Path | None = None) -> list[Mismatch]:
    """Recompute every hash the chain recorded; one Mismatch per file or input that no longer matches."""
    root = project_root(root)
    hashes = _Hashes(root)
    found: dict[str, Mismatch] = {}
    for node in walk(chain):
        _check_files(hashes, node, found)
        for entry in node.get("inputs", []):
            if entry.get("path") and entry.get("md5"):
                _check_input(hashes, node["artifact"], entry, found)
    return list(found.values())


class _Hashes:
    """Each path hashed once per check (a chain names the base model several times)."""

    def __init__(self, root: Path):
        self.root, self._memo = root, {}

    def of(self, relative_path: str) -> tuple[str | None, dict[str, str]]:
        if relative_path not in self._memo:
            path = self.root / relative_path
            if not path.exists():
                self._memo[relative_path] = (None, {})
            elif path.is_dir():
                self._memo[relative_path] = folder_hashes(path)
            else:
                md5 = file_md5(path)
                self._memo[relative_path] = (md5, {path.name: md5})
        return self._memo[relative_path]


def walk(chain: dict[str, Any]) -> list[dict[str, Any]]:
    """Every artifact in the chain once, the given one first."""
    seen, order, stack = set(), [], [chain]
    while stack:
        node = stack.pop(0)
        if node["artifact"] in seen:
            continue
        seen.add(node["artifact"])
        order.append(node)
        stack.extend(e["lineage"] for e in node.get("inputs", []) if e.get("lineage"))
    return order


def _check_files(hashes: _Hashes, node: dict[str, Any], found: dict[str, Mismatch]) -> None:
    recorded = node.get("files", {})
    actual = hashes.of(node["artifact"])[1]
    folder = (hashes.root / node["artifact"]).is_dir() or node["artifact"].rsplit("/", 1)[-1] not in recorded
    for name in sorted(set(recorded) | set(actual)):
        path = f"{node['artifact']}/{name}" if folder else node["artifact"]
        if name not in actual:
            found[path] = Mismatch(path, recorded[name], None, f"missing from {node['artifact']}")
        elif name not in recorded:
            found[path] = Mismatch(path, None, actual[name], f"not part of {node['artifact']} when it was made")
        elif actual[name] != recorded[name]:
            found[path] = Mismatch(path, recorded[name], actual[name], "content changed")


def _check_input(hashes: _Hashes, consumer: str, entry: dict[str, Any], found: dict[str, Mismatch]) -> None:
    actual = hashes.of(entry["path"])[0]
    if actual != entry["md5"]:
        found.setdefault(entry["path"], Mismatch(entry["path"], entry["md5"], actual,
                                                 f"changed since {consumer} was made from it"))
