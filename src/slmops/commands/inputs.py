"""`python -m slmops.commands.inputs`: fingerprints of the inputs params.yaml names outside DVC's view.

DVC sees `base_model.name_or_path` and `data.source` only as strings. A local model folder or .gguf whose
files change, a data file outside data/01_raw, or a hub model or dataset whose cached snapshot moved would
otherwise be restored from the run-cache as the old result, with a lineage naming the new one. The `inputs`
stage runs at every `dvc repro` (always_changed) and writes one small JSON per consumer: `base_model` and
`ingest` depend on them, so they rerun exactly when what they read changed, and otherwise DVC skips them.

Cheap when nothing moved: a file's md5 is kept in .dvc/tmp keyed by its size and mtime (as DVC keeps its own),
and this module imports no torch, pydantic or Kedro. The files hold content hashes only, no machine path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from slmops.errors import SlmopsError
from slmops.modeling.embedded import embedded_gguf

OUT = Path("data/00_inputs")
MEMO = Path(".dvc/tmp/slmops-input-hashes.json")
COMMIT = re.compile(r"[0-9a-f]{40}\Z")
SKIPPED = {".git", "__pycache__", ".cache"}  # not model or data content (.cache: huggingface_hub's download state)


class Hasher:
    """md5 of files, remembered by (size, mtime) so an unchanged file is read once."""

    def __init__(self, memo_path: Path):
        self.memo_path = memo_path
        try:
            self.memo: dict[str, list] = json.loads(memo_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.memo = {}
        self.used: dict[str, list] = {}

    def file(self, path: Path) -> str:
        stat = path.stat()
        key, stamp = str(path.resolve()), [stat.st_size, stat.st_mtime_ns]
        known = self.memo.get(key)
        if known and known[:2] == stamp:
            digest = known[2]
        else:
            md5 = hashlib.md5()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    md5.update(block)
            digest = md5.hexdigest()
        self.used[key] = [*stamp, digest]
        return digest

    def folder(self, path: Path) -> str:
        """md5 over each file's relative path and md5, in sorted order."""
        lines = []
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            relative = file.relative_to(path)
            if not SKIPPED & set(relative.parts):
                lines.append(f"{relative.as_posix()} {self.file(file)}\n")
        return hashlib.md5("".join(lines).encode()).hexdigest()

    def path(self, path: Path) -> dict[str, Any]:
        if path.is_dir():
            return {"kind": "folder", "md5": self.folder(path)}
        return {"kind": "file", "md5": self.file(path)}

    def save(self) -> None:
        if self.used == self.memo:
            return
        self.memo_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.memo_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.used), encoding="utf-8")
        temporary.replace(self.memo_path)


def hub_cache() -> Path:
    """Where huggingface_hub keeps downloads (its own environment variables, in its order)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = Path(os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")) / "huggingface")
    return home.expanduser() / "hub"


def hub_snapshot(repo_id: str, kind: str, revision: str | None) -> dict[str, Any]:
    """The commit the local cache holds for ``revision`` (default: main); None when nothing is cached yet."""
    if revision and COMMIT.match(revision):
        return {"kind": "hub", "commit": revision}
    ref = hub_cache() / f"{kind}--{repo_id.replace('/', '--')}" / "refs" / (revision or "main")
    commit = ref.read_text(encoding="utf-8").strip() if ref.is_file() else None
    return {"kind": "hub", "revision": revision, "commit": commit}


def base_model_fingerprint(params: dict[str, Any], hasher: Hasher) -> dict[str, Any]:
    name = str(params.get("name_or_path") or "embedded:SmolLM2-135M-Instruct")
    if name.startswith("embedded:"):
        return {"kind": "embedded", "md5": hasher.file(embedded_gguf(name))}
    path = Path(name).expanduser()
    if path.exists():
        return hasher.path(path)
    return hub_snapshot(name, "models", params.get("revision"))  # resolve_model_source names a bad path


def data_fingerprint(params: dict[str, Any], hasher: Hasher) -> dict[str, Any]:
    """Each data source the ingest stage reads: data.source, and data.validation/test's own sources."""
    found: dict[str, Any] = {}
    for name in ("source", "validation", "test"):
        section = params if name == "source" else params.get(name)
        if not isinstance(section, dict) or not section.get("source"):
            continue
        source = str(section["source"])
        path = Path(source).expanduser()
        if path.exists():
            found[name] = hasher.path(path)
        elif section.get("format", "auto") in ("auto", "hf_hub"):
            found[name] = hub_snapshot(source, "datasets", section.get("revision"))
    return found


def write_if_changed(path: Path, value: dict[str, Any]) -> None:
    text = json.dumps(value, indent=2, sort_keys=True) + "\n"
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def main() -> int:
    try:
        params = yaml.load(Path("params.yaml").read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader",
                                                                                         yaml.SafeLoader)) or {}
        hasher = Hasher(MEMO)
        write_if_changed(OUT / "base_model.json", base_model_fingerprint(params.get("base_model") or {}, hasher))
        write_if_changed(OUT / "data.json", data_fingerprint(params.get("data") or {}, hasher))
        hasher.save()
    except (SlmopsError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
