"""Loss curves from the Trainer's log history: training loss and validation loss, per step."""

from __future__ import annotations

from typing import Any

import pandas as pd

TRAIN_LOSS_COLUMNS = ["step", "epoch", "loss", "learning_rate"]
VALIDATION_LOSS_COLUMNS = ["step", "epoch", "validation_loss"]


def loss_frames(log_history: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    train = [{"step": e["step"], "epoch": e.get("epoch"), "loss": e["loss"], "learning_rate": e.get("learning_rate")}
             for e in log_history if "loss" in e]
    validation = [{"step": e["step"], "epoch": e.get("epoch"), "validation_loss": e["eval_loss"]}
                  for e in log_history if "eval_loss" in e]
    return (pd.DataFrame(train, columns=TRAIN_LOSS_COLUMNS),
            pd.DataFrame(validation, columns=VALIDATION_LOSS_COLUMNS))
