"""The report's "Where the time and memory went" section and quality split by the int4 grid (issue 20)."""

from __future__ import annotations

import copy
from functools import cache

import pytest
from report_inputs import (
    STAGES,
    grid_evaluation,
    make_inputs,
    make_stage_resources,
    make_train_resources,
    resource_train_metrics,
)

from slmops.pipelines.report.nodes import render_report
from slmops.pipelines.report.pipeline import create_pipeline
from slmops.pipelines.report.plots import plot_quality, plot_report_figures
from slmops.pipelines.report.resource_plots import (
    STAGE_RESOURCES,
    TRAINING_RESOURCES,
    draw_stage_resources,
    draw_training_resources,
    plot_stage_resources,
    plot_training_resources,
)
from slmops.pipelines.report.resources import ordered_stages

SECTION = "## Where the time and memory went"


@cache
def _inputs(*grid: int) -> dict:
    inputs = make_inputs()
    if grid:
        inputs["eval_metrics"], inputs["eval_details"] = grid_evaluation(*grid)
    return inputs


def inputs_for(*grid: int) -> dict:
    """inputs_for(), with base/base-on-grid/tuned rows right out of 10 per label when given (bootstraps cached)."""
    return copy.deepcopy(_inputs(*grid))


def render(inputs, stage_resources=None, train_resources=None):
    """Markdown and HTML with the resource figures only: the others are test_report.py's."""
    figures = {name: png for name, png in ((STAGE_RESOURCES, plot_stage_resources(stage_resources)),
                                           (TRAINING_RESOURCES, plot_training_resources(train_resources))) if png}
    markdown, html = render_report(**inputs, report_plots=figures, stage_resources=stage_resources,
                                   train_resources=train_resources)
    return figures, markdown, html


def section(markdown: str, heading: str) -> str:
    return markdown.split(heading)[1].split("\n## ")[0]


@pytest.fixture(scope="module")
def resource_report():
    inputs = dict(inputs_for(), train_metrics=resource_train_metrics())
    return render(inputs, make_stage_resources(), make_train_resources())


def test_section_names_the_machine_and_every_stage_in_pipeline_order(resource_report) -> None:
    figures, markdown, html = resource_report
    assert {STAGE_RESOURCES, TRAINING_RESOURCES} <= set(figures)
    text = section(markdown, SECTION)
    assert ("Machine: AMD EPYC 7B13, 2 logical CPUs, 23.4 GiB memory, SIMD `avx2` `avx512f` `avx512_bf16`, no GPU."
            in text)
    rows = [line.split("|")[1].strip().strip("`") for line in text.splitlines() if line.startswith("| `")]
    assert rows == STAGES
    assert "| `train` | 612.3 | 2.4 | 609.9 | 2,150 | 2026-12-07 01:00 |" in text
    assert "12% of the 340.0 GFLOP/s" in text and "Peak RSS while training: 2,150 MB." in text
    assert "took 0.31% of training time (1.23 s)" in text and "on average 92% of the CPUs" in text
    assert "recorded after the report is written" in text
    assert f"(figures/{STAGE_RESOURCES})" in text and f"(figures/{TRAINING_RESOURCES})" in text
    assert html.count('src="data:image/png;base64,') == len(figures)
    assert markdown.index(SECTION) < markdown.index("## Lineage")


def test_stage_figure_draws_every_stage_in_pipeline_order() -> None:
    figure = draw_stage_resources(make_stage_resources())
    time_axes, memory_axes = figure.axes[:2]
    assert [label.get_text() for label in time_axes.get_yticklabels()] == STAGES
    assert len(time_axes.patches) == 2 * len(STAGES)  # start-up and nodes for each stage
    assert len(memory_axes.patches) == len(STAGES)
    widths = [patch.get_width() for patch in memory_axes.patches]
    assert widths[STAGES.index("train")] == pytest.approx(2150.2)


def test_peak_memory_is_the_child_process_when_larger() -> None:
    figure = draw_stage_resources(make_stage_resources(children_peak_mb=3020.0))
    assert figure.axes[1].patches[STAGES.index("train")].get_width() == pytest.approx(3020.0)
    inputs = dict(inputs_for(), train_metrics=resource_train_metrics())
    _, markdown, _ = render(inputs, make_stage_resources(children_peak_mb=3020.0))
    assert "| 3,020 (child process) |" in markdown


def test_unknown_stages_sort_before_the_report_and_non_records_are_dropped() -> None:
    records = {"report": {}, "my_stage": {}, "train": {}, "export@cpu-int8": {}, "evaluate_onnx@cpu-int8": {},
               "export@cpu-int4": {}, "base_model": {}, "broken": "not a record"}
    assert [name for name, _ in ordered_stages(records)] == [
        "base_model", "train", "export@cpu-int4", "export@cpu-int8", "evaluate_onnx@cpu-int8", "my_stage", "report"]


def test_training_figure_draws_each_rank_and_gpu_memory_only_when_present() -> None:
    cpu = draw_training_resources(make_train_resources())
    assert [axes.get_ylabel() for axes in cpu.axes] == ["tokens / s", "RSS (MB)"]
    assert len(cpu.axes[0].lines) == 1
    gpu = draw_training_resources(make_train_resources(ranks=2, gpu=True))
    assert [axes.get_ylabel() for axes in gpu.axes] == ["tokens / s", "RSS (MB)", "GPU memory (MB)"]
    assert len(gpu.axes[0].lines) == 2 and len(gpu.axes[2].lines) == 6  # 3 GPU curves × 2 ranks
    assert draw_training_resources(None) is None
    assert draw_training_resources(make_train_resources().drop(columns=["tokens_per_second", "rss_mb"])) is None


def test_no_records_no_section_no_figures() -> None:
    figures, markdown, _ = render(inputs_for())
    assert SECTION not in markdown and not {STAGE_RESOURCES, TRAINING_RESOURCES} & set(figures)
    _, markdown, _ = render(inputs_for(), {}, None)
    assert SECTION not in markdown


def test_a_curve_without_stage_records_still_gets_the_section() -> None:
    figures, markdown, _ = render(inputs_for(), None, make_train_resources())
    text = section(markdown, SECTION)
    assert TRAINING_RESOURCES in figures and STAGE_RESOURCES not in figures
    assert "| Stage |" not in text and "Training ran at 175.0 tokens/s." in text
    assert "has no row here" in text


def test_memory_near_the_machine_limit_advises_checkpointing_or_a_smaller_batch() -> None:
    inputs = dict(inputs_for(), train_metrics=resource_train_metrics(utilisation=0.6))
    _, markdown, _ = render(inputs, make_stage_resources(train_peak_mb=21000.0))
    advice = section(markdown, "## What to try next")
    assert "`train` peaked at 21,000 MB RSS, 88% of this machine's 23.4 GiB (above 80%" in advice
    assert "`train.gradient_checkpointing`" in advice and "`train.batch_size` (now 8" in advice
    assert "GFLOP/s" not in advice  # 60% of the matmul peak: nothing to say
    _, markdown, _ = render(inputs, make_stage_resources())
    assert "## What to try next" not in markdown  # 2,150 MB of 23.4 GiB


def test_low_matmul_utilisation_advises_precision_and_attention_with_its_numbers(resource_report) -> None:
    _, markdown, _ = resource_report
    advice = section(markdown, "## What to try next")
    assert "an estimated 40.8 GFLOP/s, 12% of the 340.0 GFLOP/s" in advice and "(below 25%)" in advice
    assert "`train.precision` (this machine has `avx512_bf16`" in advice and "this run: fp32, eager" in advice


def test_quality_table_splits_the_gain_into_fine_tuning_and_grid() -> None:
    inputs = inputs_for(3, 2, 9)
    _, markdown, _ = render(inputs)
    metrics = inputs["eval_metrics"]
    assert "| Metric | Base | Base on the int4 grid | Fine-tuned | Δ fine-tuning | Δ grid | `cpu-int4` |" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| Macro-F1 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    tuning, grid = metrics["intervals"]["delta_tuning"]["f1"], metrics["intervals"]["delta_grid"]["f1"]
    assert cells[2] == f"{metrics['base_on_grid']['f1']:.3f} [{metrics['intervals']['base_on_grid']['f1'][0]:.3f}, " \
                       f"{metrics['intervals']['base_on_grid']['f1'][1]:.3f}]"
    assert cells[4] == f"{metrics['delta_tuning']['f1']:+.3f} [{tuning[0]:.3f}, {tuning[1]:.3f}]"
    assert cells[5] == f"{metrics['delta_grid']['f1']:+.3f} [{grid[0]:.3f}, {grid[1]:.3f}]"
    summary = markdown.split("\n\n")[1]
    interval = f"\\[{tuning[0]:.3f}, {tuning[1]:.3f}\\]"
    assert (f"Fine-tuning gained +0.595 Macro-F1 on the int4 grid (95% interval {interval}); "
            "the grid cost the base -0.128.") in summary
    assert "(blocks of 64, target `merged`)" in markdown
    assert "| Base on the int4 grid P |" in markdown  # per-class columns for the grid model too


def test_without_the_grid_the_quality_table_is_unchanged() -> None:
    _, markdown, _ = render(inputs_for())
    assert "| Δ fine-tuned − base |" in markdown and "Δ grid" not in markdown and "int4 grid" not in markdown


def test_a_grid_that_costs_more_than_the_limit_gets_advice_naming_the_knobs() -> None:
    _, markdown, _ = render(inputs_for(3, 2, 9))
    advice = section(markdown, "## What to try next")
    assert "The int4 grid cost the base model -0.128 Macro-F1, against +0.595 that fine-tuning gained" in advice
    assert "beyond 0.02" in advice and "`train.quantization_aware.block_size` (now 64" in advice
    assert "`cpu-int8`" in advice and "`train.quantization_aware.target: base`" in advice
    _, markdown, _ = render(inputs_for(2, 2, 9))  # the grid cost nothing
    assert "## What to try next" not in markdown


def test_a_fine_tuning_gain_within_noise_advises_more_rows_or_epochs() -> None:
    inputs = inputs_for(3, 3, 3)
    low, high = inputs["eval_metrics"]["intervals"]["delta_tuning"]["f1"]
    _, markdown, _ = render(inputs)
    advice = section(markdown, "## What to try next")
    assert f"what fine-tuning gained on the grid ({low:+.3f} to {high:+.3f}) includes zero" in advice
    assert "more rows or more epochs (`train.epochs` is 1)" in advice


def test_quality_figure_and_samples_include_the_base_on_the_grid() -> None:
    inputs = inputs_for(3, 2, 9)
    assert plot_quality(inputs["eval_metrics"], {}) != plot_quality(inputs_for()["eval_metrics"], {})
    inputs["eval_samples"]["samples"][0]["base_on_grid"] = "Sure! Playing"
    _, markdown, _ = render(inputs)
    assert "| Input | Reference | Base | Base on the int4 grid | Fine-tuned |" in markdown


def test_the_figures_node_draws_the_resource_figures_and_only_them_without_other_inputs() -> None:
    figures = plot_report_figures(None, None, {}, {}, [], {}, make_stage_resources(), make_train_resources())
    assert set(figures) == {STAGE_RESOURCES, TRAINING_RESOURCES}
    assert all(png.startswith(b"\x89PNG") for png in figures.values())


def test_the_pipeline_reads_the_resource_records() -> None:
    pipeline = create_pipeline()
    assert {"stage_resources", "train_resources"} <= pipeline.inputs()
    for node in pipeline.nodes:
        assert {"stage_resources", "train_resources"} <= set(node.inputs)


def test_partial_records_show_n_a_and_draw_without_crashing() -> None:
    records = {"train": {"stage": "train", "wall_seconds": 612.3, "machine": None},
               "ingest": {"stage": "ingest", "peak_rss_mb": None, "startup_seconds": "soon"}}
    _, markdown, _ = render(inputs_for(), records, None)
    text = section(markdown, SECTION)
    assert "| `ingest` | n/a | n/a | n/a | n/a | n/a |" in text
    assert "| `train` | 612.3 | n/a | n/a | n/a | n/a |" in text
    assert "Machine:" not in text
    figure = draw_stage_resources(records)
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == ["ingest", "train"]
