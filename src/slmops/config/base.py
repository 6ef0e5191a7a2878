"""The shared machinery of the typed params: a strict section model, and errors that name the key."""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from slmops.errors import ConfigError

EMBEDDED_MODEL = "embedded:SmolLM2-135M-Instruct"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _describe(error: ValidationError, model: type[BaseModel], prefix: str) -> str:
    lines = []
    for item in error.errors():
        path = ".".join(str(p) for p in (prefix, *item["loc"]) if p != "")
        if item["type"] == "extra_forbidden":
            known = _known_keys(model, item["loc"][:-1])
            hint = difflib.get_close_matches(str(item["loc"][-1]), known, n=1)
            message = "unknown key" + (f" (did you mean '{hint[0]}'?)" if hint else f"; known keys: {', '.join(known)}")
        else:
            message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {message}" if path else message)
    return "params.yaml: " + "; ".join(lines)


def _known_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the model at ``loc``, stepping through nested models and dict[str, Model] values."""
    parts = list(loc)
    while parts:
        field = model.model_fields.get(str(parts.pop(0)))
        annotation = getattr(field, "annotation", None)
        if typing.get_origin(annotation) is dict:  # e.g. target_options: the next part is a free key
            annotation = typing.get_args(annotation)[1]
            if parts:
                parts.pop(0)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(model.model_fields)


def parse(model: type[Section], values: dict[str, Any] | None, prefix: str = "") -> Any:
    """Validate ``values`` as ``model``, raising ConfigError that names the offending key."""
    try:
        return model.model_validate(values or {})
    except ValidationError as error:
        raise ConfigError(_describe(error, model, prefix)) from None
