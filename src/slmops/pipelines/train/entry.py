"""`python -m slmops.pipelines.train.entry <job.json>`: run one training job in this process.

This is what `accelerate launch` starts on every rank (and what a worker node runs in a
multi-node job). A user error is printed as one line and left in ``error.txt`` beside the job,
so the Kedro node that launched the ranks can report it as its own.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from slmops.errors import SlmopsError
from slmops.pipelines.train.job import TrainJob
from slmops.pipelines.train.run import run_training

ERROR_FILE = "error.txt"


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1:
        print("usage: python -m slmops.pipelines.train.entry <job.json>", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    job_file = Path(arguments[0])
    try:
        run_training(TrainJob.load(job_file))
    except SlmopsError as error:
        (job_file.parent / ERROR_FILE).write_text(str(error))
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
