"""params.yaml section `report`."""

from __future__ import annotations

from slmops.config.base import Section


class ReportParams(Section):
    title: str = "slmops report"
