"""An artifact's lineage chain as a read-only Kedro input, for nodes that embed it (report, model cards).

Nodes do no file I/O: they take the chain from here and render it with ``slmops.lineage.markdown``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset


class LineageChainDataset(AbstractDataset[None, dict[str, Any]]):
    """Loads ``slmops.lineage.build_chain(path)``: the artifact's record with each input's chain nested."""

    def __init__(self, path: str):
        self._path = Path(path)

    def load(self) -> dict[str, Any]:
        from slmops.lineage import build_chain

        return build_chain(self._path)

    def save(self, data: None) -> None:
        raise NotImplementedError("lineage records are written by slmops.lineage.hook.LineageHook")

    def _exists(self) -> bool:
        from slmops.lineage import record_path

        return record_path(self._path).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
