"""The machine a figure was measured on: CPU model, cores, SIMD flags, memory, GPU.

Figures from different machines of one cloud "class" differ by 2x (AVX512-BF16 or not), so every
time and memory figure is stored with the machine that produced it.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

from slmops.config.train import cpu_flags

# The flags that move training and decode speed on CPUs (wider vectors, native bf16/int8 dot products).
SIMD_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8", "asimd", "sve", "bf16")


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cpus() -> int:
    """The CPUs this process may run on (a container or `taskset` may allow fewer than the machine has)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def gpu_name() -> str | None:
    """The CUDA GPU this process used; None when it imported no torch or has no GPU (nothing is loaded to ask)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return str(torch.cuda.get_device_name(torch.cuda.current_device()))


def machine_facts() -> dict[str, Any]:
    import psutil

    flags = cpu_flags()
    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "simd": [flag for flag in SIMD_FLAGS if flag in flags],
        "gpu": gpu_name(),
    }
