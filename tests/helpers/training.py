"""The tiny training setup: SNIPS rows through the template stage, and the train node on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

TEMPLATE = {"system": "Classify.", "prompt": "{text}", "completion": "{label}", "label_field": "label"}
DATA = {"source": "data/01_raw/snips-intents.jsonl", "required_fields": ["text", "label"]}


def template_examples(rows: list[dict], tokenizer, template: dict = TEMPLATE, data: dict = DATA) -> list[dict]:
    """``rows`` through the template stage's `apply_template`, as ingest numbers them (ids r0.., lines 1..)."""
    from slmops.modeling.bundle import ModelBundle
    from slmops.pipelines.template.nodes import apply_template

    records = [dict(r, id=f"r{i}", source_line=i + 1) for i, r in enumerate(rows)]
    return list(apply_template(records, template, data, ModelBundle(model=object(), tokenizer=tokenizer)))


def write_split(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def train_tiny(work: Path, tiny_model_dir: Path, examples: list[dict], **params):
    """The train node on the tiny model: 32 training rows, 8 validation rows."""
    from slmops.modeling.bundle import ModelBundle
    from slmops.pipelines.train.nodes import train_model

    train_file = write_split(work / "train.jsonl", examples[:32])
    validation_file = write_split(work / "validation.jsonl", examples[32:40])
    params = {"epochs": 2, "batch_size": 8, "learning_rate": 0.01, "logging_steps": 1, "save_steps": 3,
              "lora": {"r": 4, "alpha": 8}, **params}
    return train_model(ModelBundle(path=tiny_model_dir), train_file, validation_file, params, work / "ck", work / "tb")
