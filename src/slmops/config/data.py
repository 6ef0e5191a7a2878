"""params.yaml sections `base_model`, `data`, `template`, `split`: what goes in and how it is cut."""

from __future__ import annotations

from pathlib import PurePath
from typing import Literal

from pydantic import Field, field_validator, model_validator

from slmops.config.base import EMBEDDED_MODEL, Section
from slmops.modeling.templating import template_fields

Format = Literal["auto", "jsonl", "json", "csv", "parquet", "hf_disk", "hf_hub"]


def inside_project(value: str) -> str:
    """A relative path may not climb out of the project; an absolute one is the user's explicit choice."""
    if not PurePath(value).is_absolute() and ".." in PurePath(value).parts:
        raise ValueError(f"'{value}' climbs out of the project with '..'; write an absolute path if you mean it")
    return value


class BaseModelParams(Section):
    name_or_path: str = EMBEDDED_MODEL
    revision: str | None = None
    trust_remote_code: bool = False
    allow_pickle: bool = False  # pickle weights (.bin/.pt) can run code when loaded: safetensors only unless set

    _inside_project = field_validator("name_or_path")(inside_project)


class SplitSource(Section):
    """A validation or test set the user gives, used as is instead of one carved out of data.source."""

    source: str | None = None  # default: data.source (e.g. another slice of the same HF dataset)
    format: Format = "auto"
    hf_split: str | None = None

    _inside_project = field_validator("source")(lambda value: value if value is None else inside_project(value))


class DataParams(Section):
    source: str
    format: Format = "auto"
    hf_split: str | None = None
    required_fields: list[str] = Field(default_factory=list)
    validation: SplitSource | None = None
    test: SplitSource | None = None

    _inside_project = field_validator("source")(inside_project)

    def source_of(self, split: str | None) -> str:
        """The file a record came from: ``split`` is a record's ``source_split`` (None: data.source)."""
        given = getattr(self, split) if split in ("validation", "test") else None
        return (given.source if given is not None and given.source else None) or self.source


class TemplateParams(Section):
    system: str | None = None
    prompt: str
    completion: str
    label_field: str | None = None
    use_chat_template: bool = True

    def fields_used(self) -> dict[str, str]:
        """Each record field the template reads, with the params key that reads it first."""
        used: dict[str, str] = {}
        for key in ("system", "prompt", "completion"):
            for name in template_fields(getattr(self, key) or ""):
                used.setdefault(name, f"template.{key}")
        if self.label_field is not None:
            used.setdefault(self.label_field, "template.label_field")
        return used

    @field_validator("system", "prompt", "completion")
    @classmethod
    def _plain_placeholders(cls, value: str | None) -> str | None:
        if value is not None:
            template_fields(value)  # raises ValueError naming the placeholder and the fix
        return value


class SplitParams(Section):
    seed: int = 42
    validation_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    test_fraction: float = Field(0.0, ge=0.0, lt=1.0)
    stratify: bool = True

    @model_validator(mode="after")
    def _fractions_leave_training_rows(self) -> SplitParams:
        if self.validation_fraction + self.test_fraction >= 1.0:
            raise ValueError("validation_fraction + test_fraction must be below 1 to leave rows to train on")
        return self
