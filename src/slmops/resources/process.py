"""This process's memory and CPU use, read cheaply enough to sample during training."""

from __future__ import annotations

import resource
import sys
import time

MB = 2**20


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float | None:
    """The peak resident memory of this process (or, with RUSAGE_CHILDREN, of its largest finished child)."""
    peak = resource.getrusage(who).ru_maxrss
    if peak == 0:
        return None
    # Linux reports KiB, macOS bytes.
    return round(peak * (1 if sys.platform == "darwin" else 1024) / MB, 1)


def peak_gpu_memory_mb() -> float | None:
    """Peak CUDA memory this process allocated through torch; None when it used no GPU."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return round(torch.cuda.max_memory_allocated() / MB, 1)


def process_started() -> float:
    """When this process started (seconds since the epoch): Kedro's and the libraries' imports count too."""
    import psutil

    return float(psutil.Process().create_time())


class ProcessSampler:
    """RSS now, and the process's CPU use since the previous sample as a share of the CPUs it may use."""

    def __init__(self, cpus: int):
        import psutil

        self._process = psutil.Process()
        self._cpus = max(cpus, 1)
        self._last = (time.perf_counter(), self._cpu_seconds())

    def _cpu_seconds(self) -> float:
        times = self._process.cpu_times()
        return times.user + times.system

    def rss_mb(self) -> float:
        return round(self._process.memory_info().rss / MB, 1)

    def cpu_percent(self) -> float | None:
        now, used = time.perf_counter(), self._cpu_seconds()
        (then, before), self._last = self._last, (now, used)
        if now <= then:
            return None
        return round(100 * (used - before) / (now - then) / self._cpus, 1)

