"""`python -m slmops` runs the Kedro CLI of this project."""

from __future__ import annotations

import sys
from pathlib import Path

from kedro.framework.cli import main as kedro_main
from kedro.framework.project import configure_project


def main() -> None:
    configure_project(Path(__file__).parent.name)
    sys.exit(kedro_main())


if __name__ == "__main__":
    main()
