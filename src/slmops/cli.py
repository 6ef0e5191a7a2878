"""Project CLI: Kedro's own `run`, with user errors printed as one line instead of a traceback."""

from __future__ import annotations

import sys

import click
from kedro.framework.cli.project import run as kedro_run

from slmops.commands.lineage import lineage as lineage_command
from slmops.errors import SlmopsError


@click.group(name="slmops")
def cli() -> None:
    """Project-specific commands (they override Kedro's built-ins of the same name)."""


def _run(**kwargs) -> None:  # noqa: ANN003 - same options as `kedro run`
    try:
        kedro_run.callback(**kwargs)
    except Exception as error:  # Kedro wraps errors raised in nodes and datasets; unwrap ours
        cause: BaseException | None = error
        while cause is not None and not isinstance(cause, SlmopsError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        click.secho(f"error: {cause}", fg="red", err=True)
        sys.exit(2)


cli.add_command(click.Command(name="run", callback=_run, params=kedro_run.params, help=kedro_run.help))
cli.add_command(lineage_command)
