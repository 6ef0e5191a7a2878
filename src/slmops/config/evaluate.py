"""params.yaml section `evaluate`."""

from __future__ import annotations

from pydantic import Field

from slmops.config.base import Section


class EvaluateParams(Section):
    max_new_tokens: int = Field(16, gt=0)
    batch_size: int = Field(16, gt=0)
    max_rows: int | None = Field(None, gt=0)
    sample_count: int = Field(8, ge=0)
