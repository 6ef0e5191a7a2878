"""A CSV table another stage may or may not have written (e.g. the validation loss curve)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset


class OptionalCSVDataset(AbstractDataset[None, pd.DataFrame | None]):
    """Read-only: the table when the file exists, None otherwise (the reader skips what is absent)."""

    def __init__(self, filepath: str):
        self._filepath = Path(filepath)

    def load(self) -> pd.DataFrame | None:
        if not self._filepath.is_file():
            return None
        return pd.read_csv(self._filepath)

    def save(self, data: None) -> None:
        raise NotImplementedError("read-only")

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
