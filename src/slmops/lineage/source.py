"""Where the base model came from, named portably and hashed where it is a file on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slmops.datasets.portable import portable_model_name
from slmops.lineage.hashing import content_hash, file_md5
from slmops.modeling.sources import resolve_model_source


def base_model_source(params: dict[str, Any], root: Path) -> dict[str, Any]:
    """{"name_or_path", "revision", "md5"}: the md5 is the embedded GGUF's or the local folder's."""
    name = str(params.get("name_or_path", ""))
    entry: dict[str, Any] = {"name_or_path": portable_model_name(name, root), "revision": params.get("revision"),
                             "md5": None}
    if not name:
        return entry
    source = resolve_model_source(name)
    if source.gguf_file:
        entry["file"] = source.gguf_file
        entry["md5"] = file_md5(Path(source.location) / source.gguf_file)
    elif Path(source.location).exists():
        entry["md5"] = content_hash(Path(source.location))
    return entry
