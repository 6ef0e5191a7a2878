"""This machine's dense matmul rate: the ceiling a training step's throughput is judged against."""

from __future__ import annotations

import time
from typing import Any

SIZE = 1024  # large enough for the BLAS kernels' full speed, small enough to measure in a fraction of a second


def matmul_gflops(device: str, dtype: Any, seconds: float = 0.3) -> float:
    """GFLOP/s of repeated SIZE x SIZE matmuls in ``dtype`` on ``device``, with the threads torch uses."""
    import torch

    a = torch.randn(SIZE, SIZE, device=device).to(dtype)
    b = torch.randn(SIZE, SIZE, device=device).to(dtype)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    torch.matmul(a, b)  # untimed: the first call sets up kernels and thread pools
    sync()
    count, started = 0, time.perf_counter()
    while True:
        torch.matmul(a, b)
        count += 1
        if count % 4 == 0:
            sync()
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                return round(2 * SIZE**3 * count / elapsed / 1e9, 1)
