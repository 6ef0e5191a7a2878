"""Fill `{field}` templates from a record. Plain substitution only: nothing is evaluated.

str.format would allow `{x.__class__}`-style attribute access; this accepts bare names only.
"""

from __future__ import annotations

import re
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class TemplateFieldError(KeyError):
    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


def template_fields(template: str) -> list[str]:
    """The field names a template uses, validating that each is a bare name."""
    fields = []
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name is None:
            continue
        if not _NAME.match(name):
            raise ValueError(f"'{{{name}}}' is not a plain field name (use letters, digits and _; write {{{{ for a brace)")
        fields.append(name)
    return fields


def fill_template(template: str, record: dict[str, Any]) -> str:
    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = match.group(1)
        if name not in record or record[name] is None:
            raise TemplateFieldError(name)
        return str(record[name])

    return _PLACEHOLDER.sub(replace, template)
