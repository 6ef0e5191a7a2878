"""Project CLI: Kedro's own `run`, wrapped (see commands/run.py), and slmops' own commands.

Each command lives in its own module under `slmops.commands` and is registered here with one line.
"""

from __future__ import annotations

from pathlib import Path

import click
from kedro.framework.cli.project import run as kedro_run

from slmops.commands.exp import exp
from slmops.commands.finetune import finetune, optimize
from slmops.commands.generate import generate
from slmops.commands.lineage import lineage as lineage_command
from slmops.commands.remote import remote
from slmops.commands.run import run_project
from slmops.commands.sweep import sweep


@click.group(name="slmops")
def cli() -> None:
    """Project-specific commands (they override Kedro's built-ins of the same name)."""


def _run(**kwargs) -> None:  # noqa: ANN003 - same options as `kedro run`
    run_project(kedro_run.callback, Path.cwd(), **kwargs)


cli.add_command(click.Command(name="run", callback=_run, params=kedro_run.params, help=kedro_run.help))
cli.add_command(finetune)
cli.add_command(optimize)
cli.add_command(optimize, name="auto-opt")  # Olive < 0.13's name for `optimize`
cli.add_command(sweep)
cli.add_command(remote)
cli.add_command(exp)
cli.add_command(generate)
cli.add_command(lineage_command)
