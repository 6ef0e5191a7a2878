"""`python -m slmops` runs the Kedro CLI of this project."""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    if sys.argv[1:2] == ["lineage"]:
        # Reads files only: skip Kedro's start-up (importing it configures logging, whose first line
        # goes to stdout and would spoil `--json`).
        from slmops.commands.lineage import lineage

        lineage.main(args=sys.argv[2:], prog_name="slmops lineage")
    from kedro.framework.cli import main as kedro_main
    from kedro.framework.project import configure_project

    configure_project(Path(__file__).parent.name)
    sys.exit(kedro_main())


if __name__ == "__main__":
    main()
