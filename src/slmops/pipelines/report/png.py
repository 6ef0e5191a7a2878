"""A matplotlib Figure as PNG bytes: the same numbers give the same bytes (no "Software" stamp)."""

from __future__ import annotations

import io

from matplotlib.figure import Figure

_DPI = 110


def to_png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()
