"""Resource use while training, every `train.logging_steps`: throughput, memory, CPU (and GPU) use.

Written to TensorBoard beside the loss and kept as rows for the DVC plot reports/resources/train.csv.
Each rank measures itself; rank 0 gathers the others' rows at the end.
"""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback

from slmops.resources.process import MB, ProcessSampler

COLUMNS = ("rank", "step", "elapsed_seconds", "tokens_per_second", "samples_per_second", "seconds_per_step",
           "rss_mb", "cpu_percent", "gpu_allocated_mb", "gpu_reserved_mb", "gpu_peak_mb", "gpu_utilisation_percent")


def _gpu_figures(device: str) -> dict[str, float | None]:
    if not device.startswith("cuda"):
        return {}
    import torch

    try:
        utilisation = float(torch.cuda.utilization())
    except (ModuleNotFoundError, RuntimeError):  # needs pynvml (nvidia-ml-py): the column stays empty without it
        utilisation = None
    return {"gpu_allocated_mb": round(torch.cuda.memory_allocated() / MB, 1),
            "gpu_reserved_mb": round(torch.cuda.memory_reserved() / MB, 1),
            "gpu_peak_mb": round(torch.cuda.max_memory_allocated() / MB, 1),
            "gpu_utilisation_percent": utilisation}


class ResourceMonitor(TrainerCallback):
    """Measures between two logging steps; ``counts`` returns the (rows, tokens) this rank has trained so far."""

    def __init__(self, counts: Any, rank: int, cpus: int, device: str, writer: Any = None):
        self.counts, self.rank, self.cpus, self.device, self.writer = counts, rank, cpus, device, writer
        self.rows: list[dict[str, Any]] = []
        self.seconds = 0.0  # the monitor's own cost, reported beside the training time
        self._sampler: ProcessSampler | None = None
        self._last: tuple[float, int, int, int] = (0.0, 0, 0, 0)
        self._began = 0.0
        self.rss_before_training_mb: float | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._sampler = ProcessSampler(self.cpus)
        self.rss_before_training_mb = self._sampler.rss_mb()
        self._began = time.perf_counter()
        self._last = (self._began, state.global_step, *self.counts())

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        measured = time.perf_counter()
        then, last_step, last_rows, last_tokens = self._last
        steps = state.global_step - last_step
        if self._sampler is None or steps <= 0:  # a validation or the final summary: no new training steps
            return
        rows, tokens = self.counts()
        seconds = measured - then
        row = {"rank": self.rank, "step": state.global_step, "elapsed_seconds": round(measured - self._began, 2),
               "tokens_per_second": round((tokens - last_tokens) / seconds, 1),
               "samples_per_second": round((rows - last_rows) / seconds, 2),
               "seconds_per_step": round(seconds / steps, 3),
               "rss_mb": self._sampler.rss_mb(), "cpu_percent": self._sampler.cpu_percent(),
               **_gpu_figures(self.device)}
        self.rows.append(row)
        if self.writer is not None:
            self.write_scalars(self.writer, row)
        done = time.perf_counter()
        self.seconds += done - measured
        self._last = (done, state.global_step, rows, tokens)  # the monitor's own time is not the next interval's

    @staticmethod
    def write_scalars(writer: Any, row: dict[str, Any], tag: str = "resources") -> None:
        for name in COLUMNS[2:]:
            value = row.get(name)
            if isinstance(value, int | float):
                writer.add_scalar(f"{tag}/{name}", value, row["step"])


def write_other_ranks(writer: Any, rows: list[dict[str, Any]]) -> None:
    """Rank 0 wrote its own rows as they came; the other ranks' rows go under resources/rank<N>/."""
    for row in rows:
        if row["rank"] != 0:
            ResourceMonitor.write_scalars(writer, row, f"resources/rank{row['rank']}")


class PortableTensorBoardCallback(TrainerCallback):
    """transformers' TensorBoard callback, but the arguments it logs name folders relative to the project.

    The stock callback logs ``args.to_json_string()``, which holds this machine's absolute run folder.
    """

    def __init__(self, writer: Any, project_root: str):
        from transformers.integrations import TensorBoardCallback

        self._stock = TensorBoardCallback(tb_writer=writer)
        self._writer, self._root = writer, project_root.rstrip("/")

    def _portable(self, text: str) -> str:
        return text.replace(self._root + "/", "").replace(self._root, ".")

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        self._writer.add_text("args", self._portable(args.to_json_string()))
        model = kwargs.get("model")
        if getattr(model, "config", None) is not None:
            self._writer.add_text("model_config", self._portable(model.config.to_json_string()))

    def on_log(self, *args: Any, **kwargs: Any) -> None:
        self._stock.on_log(*args, **kwargs)
    # No on_train_end: run_training closes the writer after the other ranks' resource rows are written to it.
