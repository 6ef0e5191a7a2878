"""The HTML report in a real headless browser (Debian's chromium): offline, no errors, every image drawn."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from browser import find_chromium, inspect_page
from report_inputs import make_inputs, make_loss_history, make_predictions, make_validation_history

from slmops.pipelines.report.nodes import render_report
from slmops.pipelines.report.plots import plot_report_figures


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium, installed with apt-get when missing and this runs as root (as CI does)."""
    binary = find_chromium()
    if binary is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = "apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium"
        result = subprocess.run(["bash", "-c", install], env=env, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            pytest.fail(f"could not install chromium: {result.stderr[-1000:]}")
        binary = find_chromium()
    if binary is None:
        message = "chromium is not installed and this is not root: run `apt-get install chromium`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


def test_report_loads_offline_without_errors_and_draws_every_image(tmp_path, chromium) -> None:
    inputs = make_inputs(tuned_right=5)  # poor quality: every section, advice included
    figures = plot_report_figures(make_loss_history(), make_validation_history(), inputs["eval_metrics"],
                                  inputs["eval_details"], make_predictions(), inputs["all_export_metrics"])
    _, html = render_report(**inputs, report_plots=figures, validation_loss_history=make_validation_history())
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    report = inspect_page(page, chromium)
    assert report.title == "slmops: SmolLM2 on SNIPS"
    assert report.errors == []
    assert all(url.startswith(("file:", "data:")) for url in report.requests), report.requests
    assert len(report.images) == len(figures) == 5
    assert all(complete and width > 0 and height > 0 for complete, width, height in report.images), report.images


def test_the_check_sees_a_broken_page(tmp_path, chromium) -> None:
    page = tmp_path / "broken.html"
    page.write_text('<title>x</title><img src="data:image/png;base64,AAAA"><img src="http://example.com/a.png">'
                    '<script>console.error("boom")</script>')
    report = inspect_page(page, chromium)
    assert any("boom" in e for e in report.errors) and "http://example.com/a.png" in report.requests
    assert [width for _, width, _ in report.images] == [0, 0]
