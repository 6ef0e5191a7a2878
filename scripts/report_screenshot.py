"""Screenshot one section of reports/report.html (headless Chromium) for the docs.

    python scripts/report_screenshot.py "Where the time and memory went" docs/images/report-resources.png

The section is cut out of the page as rendered (the page's own styles kept), so the image shows what
a reader of that run's report sees.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 1000, 2600


def section_page(html: str, heading: str) -> str:
    head = html.split("<body", 1)[0]
    match = re.search(rf"<h2[^>]*>{re.escape(heading)}</h2>.*?(?=<h2|</body>)", html, re.S)
    if match is None:
        raise SystemExit(f"reports/report.html has no section '{heading}'")
    return f"{head}<body>{match.group(0)}</body></html>"


def trim_bottom(image: Image.Image, margin: int = 16) -> Image.Image:
    pixels = np.asarray(image.convert("L"))
    rows = np.nonzero((pixels < 250).any(axis=1))[0]
    return image.crop((0, 0, image.width, min(image.height, int(rows[-1]) + margin))) if len(rows) else image


def main(heading: str, output: str, report: str = "reports/report.html") -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise SystemExit("no chromium on PATH")
    with tempfile.TemporaryDirectory() as work:
        page = Path(work) / "section.html"
        page.write_text(section_page(Path(report).read_text(encoding="utf-8"), heading), encoding="utf-8")
        shot = Path(work) / "shot.png"
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={shot}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
        trim_bottom(Image.open(shot)).save(output, optimize=True)
    print(f"wrote {output}")


if __name__ == "__main__":
    main(*sys.argv[1:])
