"""The report as a list of blocks, rendered once to Markdown and once to self-contained HTML.

Content is decided in nodes.py; this module only decides how it looks, so both formats always say
the same thing. Every piece of text from data (samples, params) is escaped here, nowhere else.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field


class Code(str):
    """Text shown verbatim in a monospace span (paths, hashes, template strings)."""


Inline = str | Code


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[Inline, ...], ...]
    align: str = ""  # one of "l"/"r" per column; missing columns are left-aligned


@dataclass(frozen=True)
class CodeBlock:
    text: str
    language: str = ""


@dataclass(frozen=True)
class Figure:
    filename: str  # a key of the plots dict, e.g. "loss_curve.png"
    caption: str


Block = Heading | Paragraph | Table | CodeBlock | Figure


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)


MISSING = "n/a"
FIGURES_DIR = "figures"  # report.md sits in reports/, the PNGs in reports/figures/


# --- numbers --------------------------------------------------------------------------------------


def format_score(value: float | None) -> str:
    return MISSING if value is None else f"{value:.3f}"


def format_delta(value: float | None) -> str:
    return MISSING if value is None else f"{value:+.3f}"


def format_perplexity(value: float | None, signed: bool = False) -> str:
    return MISSING if value is None else format(value, "+.2f" if signed else ".2f")


def format_speed(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f}"


def format_count(value: int | float | None) -> str:
    return MISSING if value is None else f"{int(value):,}"


def format_bytes(size: int | None) -> str:
    if size is None:
        return MISSING
    if size < 1024:
        return f"{size} B"
    scaled, unit = float(size), "B"
    for unit in ("KB", "MB", "GB"):
        scaled /= 1024
        if scaled < 1024:
            break
    return f"{scaled:.1f} {unit}"


def truncate(text: str, limit: int) -> str:
    text = " ".join(str(text).split())  # one line: a newline would break a Markdown table row
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- Markdown -------------------------------------------------------------------------------------

# Characters that would otherwise start emphasis, links, code, table cells or raw HTML.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|])")


def escape_markdown(text: str) -> str:
    text = html.escape(re.sub(r"\s+", " ", str(text)), quote=False)  # one line; GitHub renders raw <tags>
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _markdown_code_span(text: str) -> str:
    # A fence longer than any backtick run inside, and `|` escaped so GFM tables stay intact.
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    body = text.replace("|", "\\|")
    padded = f" {body} " if body.startswith("`") or body.endswith("`") else body
    return f"{fence}{padded}{fence}"


def _markdown_inline(part: Inline) -> str:
    return _markdown_code_span(" ".join(part.split())) if isinstance(part, Code) else escape_markdown(part)


def _markdown_table(table: Table) -> list[str]:
    rules = {"l": "---", "r": "---:"}
    align = [rules[table.align[i]] if i < len(table.align) else "---" for i in range(len(table.header))]
    lines = ["| " + " | ".join(escape_markdown(cell) for cell in table.header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_markdown_inline(cell) for cell in row) + " |" for row in table.rows]
    return lines


def _markdown_block(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return ["#" * block.level + " " + escape_markdown(block.text)]
    if isinstance(block, Paragraph):
        return ["".join(_markdown_inline(part) for part in block.parts)]
    if isinstance(block, Table):
        return _markdown_table(block)
    if isinstance(block, CodeBlock):
        longest = max((len(run) for run in re.findall(r"^`+", block.text, flags=re.M)), default=0)
        fence = "`" * max(3, longest + 1)
        return [f"{fence}{block.language}", block.text.rstrip("\n"), fence]
    return [f"![{escape_markdown(block.caption)}]({FIGURES_DIR}/{block.filename})"]


def render_markdown(document: Document, plots: dict[str, bytes]) -> str:
    lines = ["# " + escape_markdown(document.title), ""]
    for block in document.blocks:
        if isinstance(block, Figure) and block.filename not in plots:
            continue  # a figure this run could not draw: leave no dangling link
        lines += [*_markdown_block(block), ""]
    return "\n".join(lines)


# --- HTML -----------------------------------------------------------------------------------------

_CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       max-width: 980px; margin: 2rem auto; padding: 0 1rem; }
h1 { border-bottom: 2px solid #d0d7de; padding-bottom: .3rem; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: 14px; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; vertical-align: top; }
th { background: #f6f8fa; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; background: #f6f8fa; }
code { padding: 0 .2rem; border-radius: 3px; }
pre { padding: .8rem; overflow-x: auto; border-radius: 6px; }
figure { margin: 1rem 0; } figure img { max-width: 100%; }
figcaption { color: #59636e; font-size: 13px; }
"""


def _text(text: str) -> str:
    return html.escape(text, quote=False)  # quotes only matter inside attributes


def _html_inline(part: Inline) -> str:
    text = _text(part)
    return f"<code>{text}</code>" if isinstance(part, Code) else text


def _html_table(table: Table) -> str:
    def cell(tag: str, index: int, content: str) -> str:
        css_class = ' class="r"' if index < len(table.align) and table.align[index] == "r" else ""
        return f"<{tag}{css_class}>{content}</{tag}>"

    head = "".join(cell("th", i, _text(text)) for i, text in enumerate(table.header))
    body = "".join(
        "<tr>" + "".join(cell("td", i, _html_inline(part)) for i, part in enumerate(row)) + "</tr>\n"
        for row in table.rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"


def _html_block(block: Block, plots: dict[str, bytes]) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{_text(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        return "<p>" + "".join(_html_inline(part) for part in block.parts) + "</p>"
    if isinstance(block, Table):
        return _html_table(block)
    if isinstance(block, CodeBlock):
        return f"<pre><code>{_text(block.text)}</code></pre>"
    # Embedded as a data URI so the one file can be mailed or opened from anywhere.
    data = base64.b64encode(plots[block.filename]).decode("ascii")
    caption = html.escape(block.caption)
    return f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">\n<figcaption>{caption}</figcaption></figure>'


def render_html(document: Document, plots: dict[str, bytes]) -> str:
    title = html.escape(document.title)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        f'<head>\n<meta charset="utf-8">\n<title>{title}</title>\n<style>{_CSS}</style>\n</head>',
        f"<body>\n<h1>{title}</h1>",
    ]
    parts += [_html_block(b, plots) for b in document.blocks if not (isinstance(b, Figure) and b.filename not in plots)]
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)
