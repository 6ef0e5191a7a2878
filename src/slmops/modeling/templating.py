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


def _placeholder_problem(name: str) -> str:
    """Why ``{name}`` is not a plain field placeholder, in the user's terms."""
    shown = "{" + name + "}"
    if name.strip() == "" or name.strip().isdigit():
        return f"'{shown}' is a positional placeholder; name a record field instead, e.g. {{text}}"
    if "." in name:
        return f"'{shown}' reads an attribute; only plain field names are filled, e.g. {{{name.split('.')[0]}}}"
    if "[" in name:
        return f"'{shown}' indexes into a value; only plain field names are filled, e.g. {{{name.split('[')[0]}}}"
    if "!" in name or ":" in name:
        base = name.split("!")[0].split(":")[0]
        return f"'{shown}' has a conversion or format spec; write just {{{base}}}"
    return f"'{shown}' is not a plain field name (use letters, digits and _; write {{{{ and }}}} for literal braces)"


def template_fields(template: str) -> list[str]:
    """The field names a template uses, validating that each is a bare name."""
    fields = []
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name is None:
            continue
        if not _NAME.match(name):
            raise ValueError(_placeholder_problem(name))
        fields.append(name)
    stray = _PLACEHOLDER.sub("", template)
    if "{" in stray or "}" in stray:
        raise ValueError("a single '{' or '}' without its pair; write {{ and }} for literal braces")
    return fields


def fill_template(template: str, record: dict[str, Any]) -> str:
    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = match.group(1)
        if name not in record or record[name] is None:
            raise TemplateFieldError(name)
        return as_text(record[name])

    return _PLACEHOLDER.sub(replace, template)


def as_text(value: Any) -> str:
    """A record value as the text a template gets: JSON spelling for booleans (true, not True)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
