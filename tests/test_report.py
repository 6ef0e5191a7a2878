"""Report nodes on realistic metrics: what the report says, how it escapes, what it embeds."""

from __future__ import annotations

import copy
import math
from typing import Any

import pandas as pd
import pytest

from slmops.pipelines.report import plots
from slmops.pipelines.report.nodes import dvc_hash, lineage_artifacts, render_report
from slmops.pipelines.report.pipeline import create_pipeline
from slmops.pipelines.report.plots import plot_report_figures

LABELS = ["AddToPlaylist", "BookRestaurant", "GetWeather", "PlayMusic"]
COMMIT = "3f2a9c1d4b5e6f708192a3b4c5d6e7f801234567"
MERGED_MD5 = "9e107d9d372bb6826bd81d3542a419d6.dir"
RAW_MD5 = "e4d909c290d0fb1ca068ffaddf22cbd0"
STALE_REPORT_MD5 = "0123456789abcdef0123456789abcdef"


def make_parameters() -> dict[str, Any]:
    return {
        "base_model": {"name_or_path": "embedded:SmolLM2-135M-Instruct", "revision": None, "trust_remote_code": False},
        "data": {"source": "data/01_raw/snips-intents.jsonl", "format": "auto", "hf_split": None,
                 "required_fields": ["text", "label"]},
        "template": {"system": "Classify the request as one intent. Answer with the intent only.",
                     "prompt": "{text}", "completion": "{label}", "label_field": "label", "use_chat_template": True},
        "split": {"seed": 42, "validation_fraction": 0.1334, "test_fraction": 0.0, "stratify": True},
        "train": {"method": "lora", "seed": 42, "epochs": 1, "learning_rate": 0.0003, "batch_size": 8,
                  "gradient_accumulation_steps": 1, "max_length": 256, "warmup_ratio": 0.05, "weight_decay": 0.0,
                  "lr_scheduler": "linear", "logging_steps": 5, "save_steps": 40, "group_by_length": True,
                  "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"}},
        "evaluate": {"max_new_tokens": 12, "batch_size": 16, "max_rows": None, "sample_count": 8},
        "export": {"targets": ["cpu-int4"], "speed": {"prompt_count": 8, "new_tokens": 64},
                   "target_options": {"cpu-int4": {"precision": "int4", "execution_provider": "cpu",
                                                   "builder_options": {"int4_block_size": 32}}}},
        "report": {"title": "slmops: SmolLM2 on SNIPS"},
    }


def scores(f1: float, rouge: float, exact: float) -> dict[str, float]:
    return {"rouge1": rouge, "rouge2": rouge / 2, "rougeL": rouge, "f1": f1, "exact_match": exact}


def make_inputs() -> dict[str, Any]:
    """Everything render_report needs, shaped like the files the earlier stages write."""
    base, tuned = scores(0.04, 0.02, 0.0), scores(0.9123, 0.93, 0.9)
    onnx = scores(0.9051, 0.92, 0.89)
    return {
        "parameters": make_parameters(),
        "train_metrics": {"method": "lora", "epochs": 1.0, "steps": 114, "train_rows": 910, "train_tokens": 70000,
                          "train_seconds": 400.1, "tokens_per_second": 175.0, "final_loss": 0.12,
                          "trainable_parameters": 4884480, "total_parameters": 139400000},
        "split_summary": {"train": 910, "validation": 140, "test": 0,
                          "labels": {"train": {label: 130 for label in LABELS},
                                     "validation": {label: 20 for label in LABELS}, "test": {}}},
        "eval_metrics": {"rows": 140, "task": "classification", "labels": LABELS,
                         "base": {"perplexity": 45.1, **base, "seconds": 50.0},
                         "tuned": {"perplexity": 1.8, **tuned, "seconds": 12.0},
                         "delta": {"perplexity": -43.3, **{k: tuned[k] - base[k] for k in base}}},
        "eval_samples": {"samples": [
            {"id": "ab12", "input": "play some jazz | loud", "reference": "PlayMusic",
             "base": "Sure! " + "I would love to help you with that request. " * 6, "tuned": "PlayMusic"},
            {"id": "cd34", "input": "<script>alert(1)</script> weather?", "reference": "GetWeather",
             "base": "It is *sunny*", "tuned": "GetWeather"},
        ]},
        "all_export_metrics": {"cpu-int4": {
            "target": "cpu-int4", "precision": "int4", "execution_provider": "cpu", "size_mb": 86.2,
            "build_seconds": 20.0, "rows": 140, "onnx": {**onnx, "seconds": 3.0}, "pytorch": {**tuned, "seconds": 12.0},
            "delta": {k: onnx[k] - tuned[k] for k in onnx},
            "decode": {"prompts": 8, "new_tokens": 64, "onnx_tokens_per_second": 120.0,
                       "pytorch_tokens_per_second": 17.0, "speedup": 7.06, "onnx_first_token_ms": 50.0,
                       "pytorch_first_token_ms": 80.0}}},
        "dvc_lock": {"schema": "2.0", "stages": {
            "ingest": {"cmd": "kedro run --pipelines ingest",
                       "deps": [{"path": "data/01_raw/snips-intents.jsonl", "hash": "md5", "md5": RAW_MD5, "size": 81234},
                                {"path": "src/slmops/pipelines/ingest", "hash": "md5", "md5": "aa.dir", "size": 9}],
                       "outs": [{"path": "data/02_intermediate/records.jsonl", "hash": "md5",
                                 "md5": "b1946ac92492d2347c6235b4d2611184", "size": 90210}]},
            "train": {"cmd": "kedro run --pipelines train",
                      "deps": [{"path": "data/02_intermediate/records.jsonl", "hash": "md5",
                                "md5": "b1946ac92492d2347c6235b4d2611184", "size": 90210}],
                      "outs": [{"path": "data/06_models/merged_model", "hash": "md5", "md5": MERGED_MD5,
                                "size": 538000000, "nfiles": 6}]},
            "report": {"cmd": "kedro run --pipelines report", "outs": [
                {"path": "reports/report.md", "hash": "md5", "md5": STALE_REPORT_MD5, "size": 5000}]},
        }},
        "code_revision": {"commit": COMMIT, "dirty": True},
    }


def make_predictions() -> list[dict[str, str]]:
    rows = [{"id": f"{label}{i}", "reference": label, "base": "Sure!", "tuned": label} for label in LABELS for i in range(5)]
    rows.append({"id": "x", "reference": "GetWeather", "base": "Sure!", "tuned": "It will rain"})
    return rows


def make_loss_history() -> pd.DataFrame:
    # The trainer logs loss and learning rate on some rows and only eval values on others.
    return pd.DataFrame({"step": [5, 10, 15, 20, 20], "epoch": [0.04, 0.09, 0.13, 0.18, 0.18],
                         "loss": [3.1, 1.2, 0.5, 0.3, math.nan], "learning_rate": [1e-4, 3e-4, 2.8e-4, 2.6e-4, math.nan]})


def as_generation_task(inputs: dict[str, Any]) -> dict[str, Any]:
    """The same run as a free-text task: no labels, no export targets, no DVC lock, no git."""
    inputs = copy.deepcopy(inputs)
    inputs["parameters"]["template"]["label_field"] = None
    inputs["split_summary"]["labels"] = {}
    inputs["eval_metrics"].update(task="generation", labels=[])
    inputs["all_export_metrics"], inputs["dvc_lock"] = {}, {}
    inputs["code_revision"] = {"commit": None, "dirty": None}
    return inputs


@pytest.fixture(scope="module")
def classification_plots() -> dict[str, bytes]:
    inputs = make_inputs()
    return plot_report_figures(make_loss_history(), inputs["eval_metrics"], make_predictions(), inputs["all_export_metrics"])


@pytest.fixture(scope="module")
def report(classification_plots: dict[str, bytes]) -> tuple[str, str]:
    return render_report(**make_inputs(), report_plots=classification_plots)


def test_plots_are_png_files(classification_plots: dict[str, bytes]) -> None:
    assert set(classification_plots) == {"loss_curve.png", "quality.png", "confusion_matrix.png", "decode_speed.png"}
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in classification_plots.values())


def test_generation_task_has_no_confusion_matrix_and_renders_without_targets_or_lineage() -> None:
    inputs = as_generation_task(make_inputs())
    figures = plot_report_figures(make_loss_history(), inputs["eval_metrics"], make_predictions(), {})
    assert set(figures) == {"loss_curve.png", "quality.png"}
    markdown, html = render_report(**inputs, report_plots=figures)
    assert "confusion_matrix" not in markdown + html and "decode_speed" not in markdown
    assert "token F1" in markdown and "No ONNX target has been exported" in markdown
    assert "No DVC lineage recorded yet" in markdown and "no git commit recorded" in markdown


def test_loss_curve_skips_rows_without_loss_and_is_absent_when_nothing_was_logged() -> None:
    assert plots.plot_loss_curve(make_loss_history()).startswith(b"\x89PNG")
    assert plots.plot_loss_curve(make_loss_history().assign(loss=math.nan)) is None


def test_confusion_counts_put_answers_outside_the_labels_in_their_own_column() -> None:
    names, counts = plots.confusion_counts(LABELS, make_predictions())
    assert names[-1] == plots.OTHER_LABEL and counts.sum() == 21
    assert counts[LABELS.index("GetWeather"), -1] == 1 and counts[LABELS.index("PlayMusic")].tolist() == [0, 0, 0, 5, 0]


def test_markdown_states_scores_targets_and_lineage(report: tuple[str, str]) -> None:
    markdown, _ = report
    assert markdown.startswith("# slmops: SmolLM2 on SNIPS\n")
    assert "from 0.040 to 0.912" in markdown  # the summary, 3 decimals
    assert "| Macro-F1 | 0.040 | 0.912 | +0.872 |" in markdown
    assert "| `cpu-int4` | int4 / cpu | 86.2 | 120.0 | 17.0 | 7.1× | 50.0 | 0.905 | -0.007 |" in markdown
    assert f"commit `{COMMIT}` with uncommitted changes" in markdown
    assert f"| `data/06_models/merged_model` | train | `{MERGED_MD5}` | 513.1 MB (6 files) |" in markdown
    assert RAW_MD5 in markdown and STALE_REPORT_MD5 not in markdown
    assert "learning_rate: 0.0003" in markdown and "target_modules: all-linear" in markdown


def test_markdown_links_figures_beside_it_and_orders_sections(report: tuple[str, str]) -> None:
    markdown, _ = report
    assert "![Training loss and learning rate by step](figures/loss_curve.png)" in markdown
    assert "(figures/confusion_matrix.png)" in markdown and "base64" not in markdown
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == ["## What was trained on what", "## How it scored", "## How each target performs",
                        "## Lineage", "## Parameters"]


def test_markdown_escapes_sample_text(report: tuple[str, str]) -> None:
    markdown, _ = report
    assert "play some jazz \\| loud" in markdown and "jazz | loud" not in markdown
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert "It is \\*sunny\\*" in markdown


def test_long_base_answers_are_truncated(report: tuple[str, str]) -> None:
    markdown, _ = report
    row = next(line for line in markdown.splitlines() if "play some jazz" in line)
    assert "…" in row and len(row) < 260


def test_html_is_self_contained_and_escapes_samples(report: tuple[str, str], classification_plots: dict[str, bytes]) -> None:
    _, html = report
    assert html.count('src="data:image/png;base64,') == len(classification_plots)
    assert 'src="figures/' not in html and "<link" not in html and 'src="http' not in html
    assert "<style>" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "play some jazz | loud" in html and f"<code>{COMMIT}</code>" in html


def test_dvc_hash_reads_dvc3_and_older_lock_entries() -> None:
    assert dvc_hash({"path": "a", "hash": "md5", "md5": "abc"}) == "abc"
    assert dvc_hash({"path": "a", "md5": "abc.dir", "nfiles": 2}) == "abc.dir"
    assert dvc_hash({"path": "a", "hash": "md5"}) is None
    assert lineage_artifacts({}) == []


def test_create_pipeline_reads_and_writes_the_catalog_names() -> None:
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"parameters", "train_metrics", "loss_history", "split_summary", "eval_metrics",
                                 "eval_samples", "predictions", "all_export_metrics", "dvc_lock", "code_revision"}
    assert pipeline.outputs() == {"report_markdown", "report_html"}
    assert pipeline.all_outputs() == {"report_plots", "report_markdown", "report_html"}
    assert {n.name for n in pipeline.nodes} == {"plot_report_figures", "render_report"}
