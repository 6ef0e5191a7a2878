"""Trainer callbacks: complete-checkpoint markers, early stopping on the validation loss."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

COMPLETE_MARKER = "slmops-complete"  # written into a checkpoint folder once everything in it is saved


class MarkCompleteCheckpoints(TrainerCallback):
    """Trainer calls ``on_save`` after the whole checkpoint (weights, optimizer, RNG, state) is on disk.

    Only folders with this marker are resumed from, so a run killed mid-save never resumes from a
    half-written checkpoint (a partial ``trainer_state.json`` would look complete).
    """

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            marker = folder / COMPLETE_MARKER
            temporary = folder / f".{COMPLETE_MARKER}.tmp"
            with open(temporary, "w") as handle:
                handle.write(str(state.global_step))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, marker)


class StopWhenValidationLossStalls(TrainerCallback):
    """Stop after ``patience`` validations without the validation loss falling by more than ``min_delta``.

    Unlike transformers' EarlyStoppingCallback it needs no best-model reloading, so checkpoints and
    validations keep their own schedules. The weights written are those of the last step.
    """

    def __init__(self, patience: int, min_delta: float):
        self.patience, self.min_delta = patience, min_delta
        self.best: float | None = None
        self.stalled = 0
        self.stopped_at: int | None = None

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None,
                    **kwargs: Any) -> None:
        loss = (metrics or {}).get("eval_loss")
        if loss is None:
            return
        if self.best is None or loss < self.best - self.min_delta:
            self.best, self.stalled = loss, 0
            return
        self.stalled += 1
        if self.stalled >= self.patience:
            control.should_training_stop = True
            self.stopped_at = state.global_step

