"""Errors a user can act on: each names the file, the row and the field at fault."""

from __future__ import annotations

from pathlib import Path


class SlmopsError(Exception):
    """An error caused by the user's input or configuration, not by a bug.

    The CLI prints these as one line and exits non-zero, without a traceback.
    """


class InputDataError(SlmopsError):
    """A problem with a data file: missing, malformed, empty, or a row lacking a field."""

    def __init__(self, source: str, message: str, *, line: int | None = None, field: str | None = None,
                 unit: str = "line"):
        self.source, self.line, self.field = source, line, field
        where = _shown(source)
        if line is not None:
            where += f", {unit} {line}"  # "row" for tables and HF datasets, where lines mean nothing
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")


def _shown(source: str) -> str:
    """A path inside the working directory as the user would type it (Kedro hands datasets absolute paths)."""
    path = Path(source)
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            pass
    return source


class ConfigError(SlmopsError):
    """A problem with params.yaml: unknown key, wrong type, impossible value."""


class UnsupportedError(SlmopsError):
    """The request is valid but cannot run here (hardware, method not built yet); says how to fix it."""


class QualityGateError(SlmopsError):
    """An exported model scores further below the PyTorch model than `export.max_quality_drop` allows."""
