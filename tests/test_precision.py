"""Training precision: bf16 autocast only where the hardware has native bf16 matmuls."""

from __future__ import annotations

import pytest

from slmops.modeling import precision
from slmops.modeling.precision import (autocast, cpu_flags, precision_reason, training_arguments_precision,
                                       training_precision)

X86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 avx512f {extra}\n\nprocessor\t: 1\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd evtstrm {extra}\nCPU implementer\t: 0x41\n"


@pytest.mark.parametrize(("text", "extra", "expected"), [
    (X86, "avx512_bf16 avx512_vnni", "bf16"), (X86, "amx_bf16", "bf16"), (X86, "avx512_vnni", "fp32"),
    (ARM, "bf16 i8mm", "bf16"), (ARM, "sve", "fp32"),
])
def test_cpu_precision_follows_the_cpu_flags(tmp_path, monkeypatch, text, extra, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(text.format(extra=extra))
    monkeypatch.setattr(precision, "cpu_flags", lambda: cpu_flags(cpuinfo))
    assert training_precision("cpu") == expected
    assert precision_reason("cpu", expected).startswith(expected)


def test_no_cpuinfo_means_fp32(tmp_path, monkeypatch):
    assert cpu_flags(tmp_path / "missing") == set()
    monkeypatch.setattr(precision, "cpu_flags", lambda: cpu_flags(tmp_path / "missing"))
    assert training_precision("cpu") == "fp32"
    assert training_precision("mps") == "fp32"


def test_cuda_precision_asks_the_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert training_precision("cuda:0") == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert training_precision("cuda") == "bf16"


@pytest.mark.parametrize("chosen", ["bf16", "fp32"])
def test_each_precision_sets_the_trainer_and_the_autocast_context(tmp_path, chosen):
    import torch
    from transformers import TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none",
                             **training_arguments_precision(chosen))
    assert args.bf16 is (chosen == "bf16") and not args.fp16
    layer = torch.nn.Linear(8, 4)
    with autocast("cpu", chosen):
        out = layer(torch.randn(2, 8))
    assert out.dtype == (torch.bfloat16 if chosen == "bf16" else torch.float32)
    assert layer.weight.dtype == torch.float32  # weights stay fp32: only the matmul is cast
