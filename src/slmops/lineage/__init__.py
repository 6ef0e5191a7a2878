"""Lineage: every artifact records what it was made from; any artifact traced back to the raw data.

- ``LineageHook`` (Kedro) writes ``X.lineage.json`` beside each artifact ``X`` (a file or a folder) when a
  node saves it: never inside a folder, so a folder's DVC hash is its content alone.
- ``build_chain`` / ``verify_chain`` follow those records back to the raw data and recheck hashes.
- ``chain_markdown`` embeds the chain in the report and the ONNX model cards.
"""

from __future__ import annotations

from pathlib import Path

from slmops.lineage.chain import Mismatch, build_chain, project_root, verify_chain
from slmops.lineage.compat import LineageVersionWarning, incompatible_versions, warn_if_incompatible
from slmops.lineage.record import LineageNotFoundError, read_record, record_path
from slmops.lineage.render import markdown, text_tree

__all__ = [
    "LineageNotFoundError", "LineageVersionWarning", "Mismatch", "build_chain", "chain_markdown",
    "incompatible_versions", "project_root", "read_record", "record_path", "text_tree", "verify_chain",
    "warn_if_incompatible",
]


def chain_markdown(path: Path | str, root: Path | None = None) -> str:
    """Markdown for a report or model card: ``path``'s chain back to the raw data, with hashes and versions.

    Raises LineageNotFoundError when ``path`` has no lineage record (not made by a pipeline stage).
    """
    return markdown(build_chain(path, root))
