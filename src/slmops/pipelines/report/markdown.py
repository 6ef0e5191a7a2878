"""How the report looks: numbers and text as Markdown, then the same Markdown as one HTML page.

The report's content is written once, as Markdown (Jinja2 template ``templates/report.md.j2``);
markdown-it-py turns it into HTML and a second template (``templates/page.html.j2``) wraps it
with styles, figures embedded as data URIs so the page is one self-contained file. Text from data
(samples, labels, params) goes through ``md`` (escaped), numbers through the ``fmt_*`` helpers.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

MISSING = "n/a"
FIGURES_DIR = "figures"  # report.md sits in reports/, the PNGs in reports/figures/
TEMPLATES = Path(__file__).parent / "templates"


class Code(str):
    """Text shown verbatim in a monospace span (paths, hashes, template strings)."""


# --- numbers --------------------------------------------------------------------------------------


def fmt_score(value: Any, digits: int = 3, signed: bool = False) -> str:
    if not isinstance(value, int | float) or value != value:  # None, missing, NaN
        return MISSING
    return format(value, f"{'+' if signed else ''}.{digits}f")


def fmt_interval(interval: Any, digits: int = 3) -> str:
    if not isinstance(interval, list | tuple) or len(interval) != 2:
        return ""
    return f"[{fmt_score(interval[0], digits)}, {fmt_score(interval[1], digits)}]"


def fmt_count(value: Any) -> str:
    return f"{int(value):,}" if isinstance(value, int | float) and value == value else MISSING


def fmt_bytes(size: Any) -> str:
    if not isinstance(size, int | float):
        return MISSING
    if size < 1024:
        return f"{int(size)} B"
    scaled, unit = float(size), "B"
    for unit in ("KB", "MB", "GB"):
        scaled /= 1024
        if scaled < 1024:
            break
    return f"{scaled:.1f} {unit}"


# --- text -----------------------------------------------------------------------------------------

# Every ASCII punctuation character may be backslash-escaped in CommonMark; these are the ones
# that could start emphasis, code, links, images, raw HTML, entities or split a table cell.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~&!])")


def md(text: Any, limit: int | None = None) -> str:
    """Plain text as one line of Markdown that renders as exactly that text (newlines shown as ↵)."""
    if isinstance(text, Code):
        return code(text)
    text = re.sub(r"[ \t]*\r?\n[ \t]*", " ↵ ", str(text).strip())
    text = re.sub(r"\s+", " ", text)
    if limit and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    text = _SPECIAL.sub(r"\\\1", text)
    # What would open a block at the start of a line: a list item ("1." "1)" "-" "+") or a setext rule.
    text = re.sub(r"^(\d+)([.)])", r"\1\\\2", text)
    return "\\" + text if text[:1] in {"-", "+", "="} else text


def code(text: Any) -> str:
    """An inline code span: a fence longer than any backtick run inside; `|` escaped for tables."""
    text = " ".join(str(text).split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    body = text.replace("|", "\\|")
    padded = f" {body} " if body.startswith("`") or body.endswith("`") else body
    return f"{fence}{padded}{fence}"


def table(header: list[str], rows: list[list[str]], align: str = "") -> str:
    """A GFM table from cells that are already Markdown (escaped text, formatted numbers)."""
    rules = [("---:" if align[i:i + 1] == "r" else "---") for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rules) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# --- rendering ------------------------------------------------------------------------------------


@cache
def _environment(autoescape: bool) -> Environment:
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=autoescape, undefined=StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    environment.filters.update(md=md, code=code, score=fmt_score, interval=fmt_interval, count=fmt_count)
    environment.globals.update(table=table, figures_dir=FIGURES_DIR)
    return environment


def render_markdown(context: dict[str, Any]) -> str:
    text = _environment(False).get_template("report.md.j2").render(**context)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _image_rule(figures: dict[str, bytes]) -> Any:
    prefix = f"{FIGURES_DIR}/"

    def render_image(self: Any, tokens: list[Any], index: int, options: Any, env: Any) -> str:
        token = tokens[index]
        source = str(token.attrGet("src") or "")
        name = source.removeprefix(prefix)
        if source.startswith(prefix) and name in figures:
            token.attrSet("src", "data:image/png;base64," + base64.b64encode(figures[name]).decode("ascii"))
        return self.image(tokens, index, options, env)

    return render_image


def render_html(markdown: str, title: str, figures: dict[str, bytes]) -> str:
    """The Markdown as one self-contained HTML page (raw HTML in the Markdown stays text)."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    parser.add_render_rule("image", _image_rule(figures))
    body = parser.render(markdown)
    return _environment(True).get_template("page.html.j2").render(title=title, body=body)
