"""Warnings a user should read: one line each on stderr, `warning: <file>, line N, field 'x': ...`.

Printed, not logged, so they stay one line whatever Kedro's log handler does; the run goes on.
"""

from __future__ import annotations

import sys


def warn_user(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")
    sys.stderr.flush()
