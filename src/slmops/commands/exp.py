"""`slmops exp show`: `dvc exp show` with the figures that decide a run first, then only what varies."""

from __future__ import annotations

import csv
import io
import re
import subprocess

import click

# (column as `dvc exp show` names it, heading): tuned F1, int4 F1, decode speed, training time.
KEY_FIGURES = [("tuned.f1", "tuned F1"), ("onnx.f1", "ONNX F1"),
               ("decode.onnx_tokens_per_second", "decode tok/s"), ("train_seconds", "train s")]
IDENTITY = ["Experiment", "rev", "Created"]


def keep_pattern() -> str:
    # `--keep` patterns match from the column name's start; a name may carry its file when ambiguous.
    return "|".join([*IDENTITY, *(f"(.*:)?{re.escape(column)}" for column, _ in KEY_FIGURES)])


def key_figures_first(table: str) -> list[list[str]]:
    """Reorder `dvc exp show --csv` columns: name, key figures (renamed), then the params/metrics that changed."""
    rows = list(csv.reader(io.StringIO(table)))
    if not rows:
        return []
    header = rows[0]
    order = [header.index(c) for c in ("Experiment", "rev") if c in header]
    headings = {}
    for column, heading in KEY_FIGURES:
        for i, name in enumerate(header):
            if name == column or name.endswith(":" + column):
                order.append(i)
                headings[i] = heading + (f" ({name.split(':')[0].rsplit('/', 1)[-1]})" if ":" in name else "")
    order += [i for i, name in enumerate(header) if i not in order and name not in ("Created", "typ", "parent")]
    out = [[headings.get(i, header[i]) for i in order]]
    return out + [[row[i] if i < len(row) else "" for i in order] for row in rows[1:]]


def render(rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines[:1] + ["|" + "---|" * len(rows[0])] + lines[1:]) if rows else ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))] if rows else []
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


@click.group()
def exp() -> None:
    """DVC experiments, key figures first."""


@exp.command("show", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--md", is_flag=True, help="a Markdown table (for a pull request or job summary)")
@click.option("--all-columns", is_flag=True, help="every param and metric, not only those that vary")
@click.pass_context
def show(ctx: click.Context, md: bool, all_columns: bool) -> None:
    """Tuned F1, ONNX F1, decode tokens/s and training seconds first, then the params and metrics that differ.

    Other options go to `dvc exp show` (e.g. `-A`, `--rev`, `-n 5`, `--sort-by onnx.f1`).
    """
    command = ["dvc", "exp", "show", "--csv", "--no-pager", *ctx.args]
    if not all_columns:
        command += ["--only-changed", "--keep", keep_pattern()]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:
        click.echo(result.stderr, err=True)
        raise SystemExit(result.returncode)
    click.echo(render(key_figures_first(result.stdout), md))
