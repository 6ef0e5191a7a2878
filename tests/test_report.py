"""The report on realistic metrics: what it says, how it escapes, what it embeds, what it skips."""

from __future__ import annotations

import html as html_lib

import pytest
from report_inputs import (
    COMMIT,
    MERGED_MD5,
    RAW_MD5,
    STALE_REPORT_MD5,
    as_generation_task,
    make_inputs,
    make_loss_history,
    make_predictions,
    make_validation_history,
)

from slmops.pipelines.report import plots
from slmops.pipelines.report.lineage import dvc_hash, lineage_artifacts
from slmops.pipelines.report.markdown import md
from slmops.pipelines.report.nodes import render_report
from slmops.pipelines.report.pipeline import create_pipeline
from slmops.pipelines.report.plots import plot_report_figures

pytestmark = pytest.mark.fast  # in `make test-fast`


def figures_for(inputs, validation=None):
    return plot_report_figures(make_loss_history(), validation, inputs["eval_metrics"], inputs["eval_details"],
                               make_predictions(), inputs["all_export_metrics"])


@pytest.fixture(scope="module")
def classification_figures() -> dict[str, bytes]:
    return figures_for(make_inputs(), make_validation_history())


@pytest.fixture(scope="module")
def report(classification_figures) -> tuple[str, str]:
    return render_report(**make_inputs(), report_plots=classification_figures,
                         validation_loss_history=make_validation_history())


def test_every_figure_is_a_png(classification_figures) -> None:
    assert set(classification_figures) == {"loss_curve.png", "quality.png", "confusion_matrix.png",
                                           "decode_speed.png", "lengths.png"}
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in classification_figures.values())


def test_the_side_by_side_table_holds_every_model_and_target_with_intervals(report) -> None:
    markdown, _ = report
    inputs = make_inputs()
    metrics, intervals = inputs["eval_metrics"], inputs["eval_metrics"]["intervals"]

    def cell(value, bounds, sign=""):
        return f"{value:{sign}.3f} [{bounds[0]:.3f}, {bounds[1]:.3f}]"

    assert ("| Metric | Base | Base, labels in prompt | Fine-tuned | Δ fine-tuned − base | `cpu-int4` |"
            in markdown)
    row = next(line for line in markdown.splitlines() if line.startswith("| Macro-F1 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == cell(metrics["base"]["f1"], intervals["base"]["f1"])
    assert cells[2] == cell(metrics["base_with_label_list"]["f1"], intervals["base_with_label_list"]["f1"])
    assert cells[3] == cell(metrics["tuned"]["f1"], intervals["tuned"]["f1"])
    assert cells[4] == cell(metrics["delta"]["f1"], intervals["delta"]["f1"], "+")
    assert cells[5] == f"{inputs['all_export_metrics']['cpu-int4']['onnx']['f1']:.3f} [0.800, 0.950]"
    perplexity = next(line for line in markdown.splitlines() if line.startswith("| Perplexity (lower is better) |"))
    assert "| n/a |" in perplexity  # never measured for the labels-listed run


def test_per_class_confusion_targets_and_lineage_sections(report) -> None:
    markdown, _ = report
    assert "| PlayMusic | 10 |" in markdown and "(figures/confusion_matrix.png)" in markdown
    assert "| `cpu-int4` | int4 / cpu | 86.2 | 0.80 | 50.0 | 120.0 | 17.0 | 7.06× | 310 |" in markdown
    assert f"commit `{COMMIT}` with uncommitted changes" in markdown
    assert f"| `data/06_models/merged_model` | train | `{MERGED_MD5}` | 513.1 MB (6 files) |" in markdown
    assert RAW_MD5 in markdown and STALE_REPORT_MD5 not in markdown
    assert "whose prompt start was cut: 3" in markdown
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == ["## Task and data", "## Training", "## How it scored", "## Export targets: speed and size",
                        "## Lineage", "## Parameters"]  # quality is good: nothing to try next


def test_poor_quality_gets_advice_grounded_in_its_numbers() -> None:
    inputs = make_inputs(tuned_right=5)
    markdown, _ = render_report(**inputs, report_plots={}, validation_loss_history=make_validation_history(rising=True))
    advice = markdown.split("## What to try next")[1].split("## Parameters")[0]
    assert "Validation loss rose from 0.600 (step 10) to 0.900 (step 20)" in advice
    assert "Weakest labels:" in advice and "AddToPlaylist (F1 0.67, 10 rows)" in advice
    assert "Only 910 training rows" in advice


def test_generation_task_reports_its_own_metrics_and_skips_what_is_missing() -> None:
    inputs = as_generation_task(make_inputs())
    figures = plot_report_figures(make_loss_history(), None, inputs["eval_metrics"], {}, [], {})
    assert set(figures) == {"loss_curve.png", "quality.png"}
    markdown, html = render_report(**inputs, report_plots=figures)
    for name in ("| Token F1 |", "| ROUGE-L |", "| Repetitive answers (lower is better) | 0.000", "| Exact match |",
                 "| Cut off by max_new_tokens (lower is better) |"):
        assert name in markdown
    assert "confusion_matrix" not in markdown + html and "### Per class" not in markdown
    assert "No ONNX target has been exported" in markdown and "No DVC lineage recorded yet" in markdown
    advice = markdown.split("## What to try next")[1]
    assert "50% of the fine-tuned answers loop" in advice and "repetition_penalty" in advice
    assert "50% of the fine-tuned answers were cut off at `evaluate.max_new_tokens` (64)" in advice


def test_missing_inputs_are_skipped_sections_not_crashes() -> None:
    inputs = make_inputs()
    empty = dict(inputs, train_metrics={}, split_summary={}, eval_metrics={}, eval_details={}, eval_samples={},
                 all_export_metrics={}, dvc_lock={}, code_revision={})
    figures = plot_report_figures(None, None, {}, {}, [], {})
    markdown, html = render_report(**empty, report_plots=figures)
    assert "No evaluation has been recorded yet" in markdown and "No samples were recorded" in markdown
    assert "No training loss was logged" in markdown and "<h1>" in html


@pytest.mark.parametrize("text", ["play some jazz | loud", "<script>alert(1)</script>", "It is *sunny* _now_",
                                  "a [link](http://x) ![img](y) `code` \\ back", "# not a heading", "&amp; &lt;",
                                  "1. not a list ~~strike~~"])
def test_text_from_data_renders_as_exactly_that_text(text) -> None:
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark", {"html": False}).render(md(text))
    assert rendered == f"<p>{html_lib.escape(text, quote=False)}</p>\n"


def test_samples_show_whole_answers_escaped_and_bounded(report) -> None:
    markdown, html = report
    assert "It is \\*sunny\\* ↵ and warm" in markdown and "play some jazz \\| loud" in markdown
    row = next(line for line in markdown.splitlines() if "play some jazz" in line)
    assert "…" in row and len(row) < 300
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_html_is_the_markdown_rendered_and_self_contained(report, classification_figures) -> None:
    markdown, html = report
    assert "(figures/loss_curve.png)" in markdown and "base64" not in markdown
    assert html.count('src="data:image/png;base64,') == len(classification_figures)
    assert 'src="figures/' not in html and "<link" not in html and "http" not in html.split("<body>")[0]
    assert "<table>" in html and "<style>" in html and f"<code>{COMMIT}</code>" in html


def test_validation_loss_is_drawn_when_present() -> None:
    without = plots.plot_loss_curve(make_loss_history())
    with_validation = plots.plot_loss_curve(make_loss_history(), make_validation_history())
    assert without.startswith(b"\x89PNG") and with_validation != without
    assert plots.plot_loss_curve(make_loss_history().assign(loss=float("nan"))) is None


def test_dvc_hash_reads_dvc3_and_older_lock_entries() -> None:
    assert dvc_hash({"path": "a", "hash": "md5", "md5": "abc"}) == "abc"
    assert dvc_hash({"path": "a", "md5": "abc.dir", "nfiles": 2}) == "abc.dir"
    assert dvc_hash({"path": "a", "hash": "md5"}) is None
    assert lineage_artifacts({}) == []


def test_a_file_inside_an_output_folder_is_not_source_data() -> None:
    lock = {"stages": {
        "split": {"deps": [{"path": "data/03_primary/examples.jsonl", "md5": "a"}],
                  "outs": [{"path": "data/05_model_input", "md5": "b.dir"}]},
        "train": {"deps": [{"path": "data/05_model_input/train.jsonl", "md5": "c"}],
                  "outs": [{"path": "data/06_models/adapter", "md5": "d.dir"}]}}}
    origins = {row[0]: row[1] for row in lineage_artifacts(lock)}
    assert origins["`data/03_primary/examples.jsonl`"] == "source data"
    assert "`data/05_model_input/train.jsonl`" not in origins  # split made it: its folder's row says so
    assert origins["`data/05_model_input`"] == "split"


def test_create_pipeline_reads_and_writes_the_catalog_names() -> None:
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"parameters", "train_metrics", "loss_history", "validation_loss_history",
                                 "split_summary", "eval_metrics", "eval_details", "eval_samples", "predictions", "all_export_metrics",
                                 "dvc_lock", "code_revision", "merged_model_lineage", "stage_resources", "train_resources"}
    assert pipeline.outputs() == {"report_markdown", "report_html"}
