"""Report pipeline: draw the figures, then write one report as Markdown and turn it into self-contained HTML."""

from kedro.pipeline import Pipeline, node

from slmops.pipelines.report.nodes import render_report
from slmops.pipelines.report.plots import plot_report_figures


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(plot_report_figures,
             ["loss_history", "validation_loss_history", "eval_metrics", "eval_details", "predictions",
              "all_export_metrics", "stage_resources", "train_resources"],
             "report_plots", name="plot_report_figures"),
        node(render_report,
             ["parameters", "train_metrics", "split_summary", "eval_metrics", "eval_details", "eval_samples",
              "all_export_metrics",
              "dvc_lock", "code_revision", "report_plots", "validation_loss_history", "merged_model_lineage",
              "stage_resources", "train_resources"],
             ["report_markdown", "report_html"], name="render_report"),
    ])
