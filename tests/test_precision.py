"""Training precision (`train.precision`): auto follows the hardware, bf16 only where it is native, fp32 on demand."""

from __future__ import annotations

import pytest

from slmops.config import TrainParams, parse
from slmops.config import train as train_config
from slmops.errors import ConfigError, UnsupportedError
from slmops.modeling import precision
from slmops.modeling.precision import autocast, precision_reason, training_arguments_precision, training_precision

pytestmark = pytest.mark.fast  # in `make test-fast`

X86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 avx512f {extra}\n\nprocessor\t: 1\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd evtstrm {extra}\nCPU implementer\t: 0x41\n"
NATIVE_BF16 = train_config.bf16_missing("cpu") is None  # this machine's CPU
READ_CPU_FLAGS = train_config.cpu_flags


def _cpu(monkeypatch, tmp_path, text: str) -> None:
    """Pretend this machine has ``text`` as /proc/cpuinfo and no GPU."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(text)
    monkeypatch.setattr(train_config, "cpu_flags", lambda: READ_CPU_FLAGS(cpuinfo))
    monkeypatch.setattr(precision, "cpu_flags", train_config.cpu_flags)
    monkeypatch.setattr(train_config, "_cuda_available", lambda: False)


@pytest.mark.parametrize(("text", "extra", "expected"), [
    (X86, "avx512_bf16 avx512_vnni", "bf16"), (X86, "amx_bf16", "bf16"), (X86, "avx512_vnni", "fp32"),
    (ARM, "bf16 i8mm", "bf16"), (ARM, "sve", "fp32"),
])
def test_auto_follows_the_cpu_flags_and_fp32_is_always_fp32(tmp_path, monkeypatch, text, extra, expected):
    _cpu(monkeypatch, tmp_path, text.format(extra=extra))
    assert training_precision("cpu") == training_precision("cpu", "auto") == expected
    assert precision_reason("cpu", expected).startswith(expected)
    assert training_precision("cpu", "fp32") == "fp32"
    assert precision_reason("cpu", "fp32", "fp32") == "fp32: train.precision is fp32"


def test_no_cpuinfo_means_fp32(tmp_path, monkeypatch):
    assert train_config.cpu_flags(tmp_path / "missing") == set()
    _cpu(monkeypatch, tmp_path, "")
    assert training_precision("cpu") == "fp32"
    assert training_precision("mps") == "fp32"


def test_bf16_where_the_cpu_lacks_it_stops_at_start_up_saying_what_to_set(tmp_path, monkeypatch):
    _cpu(monkeypatch, tmp_path, X86.format(extra="avx512_vnni"))
    with pytest.raises(ConfigError, match=r"train.*precision 'bf16': this CPU .* has none of amx_bf16, avx512_bf16, "
                                          r"bf16 .* emulated.*set train.precision to auto .* or fp32"):
        parse(TrainParams, {"precision": "bf16"}, "train")
    with pytest.raises(UnsupportedError, match="set train.precision to auto or fp32"):  # a rank on such a CPU
        training_precision("cpu", "bf16")
    assert parse(TrainParams, {"precision": "fp32"}, "train").precision == "fp32"
    assert parse(TrainParams, {}, "train").precision == "auto"
    with pytest.raises(ConfigError, match="precision"):
        parse(TrainParams, {"precision": "fp16"}, "train")


def test_bf16_where_the_cpu_has_it_is_accepted(tmp_path, monkeypatch):
    _cpu(monkeypatch, tmp_path, X86.format(extra="avx512_bf16"))
    assert parse(TrainParams, {"precision": "bf16"}, "train").precision == "bf16"
    assert training_precision("cpu", "bf16") == "bf16"


def test_cuda_precision_asks_the_gpu_for_native_bf16(monkeypatch):
    import torch

    asked = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda **k: asked.append(k) or False)
    assert training_precision("cuda:0") == "fp32"
    assert asked == [{"including_emulation": False}]  # emulated bf16 is slower than fp32
    with pytest.raises(ConfigError, match="this CUDA GPU has no native bf16"):
        parse(TrainParams, {"precision": "bf16"}, "train")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda **k: True)
    assert training_precision("cuda") == training_precision("cuda", "bf16") == "bf16"


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


@pytest.mark.parametrize("requested", ["fp32", pytest.param("bf16", marks=pytest.mark.skipif(
    not NATIVE_BF16, reason="this CPU has no native bf16"))])
def test_the_trainer_trains_in_the_precision_asked_and_records_it(tmp_path, tiny_model_dir, examples, monkeypatch,
                                                                   requested):
    from helpers.training import train_tiny

    from slmops.pipelines.train import run

    shipped, made = run.training_arguments, []
    monkeypatch.setattr(run, "training_arguments", lambda *a, **k: made.append(shipped(*a, **k)) or made[-1])
    _, _, metrics, *_ = train_tiny(tmp_path, tiny_model_dir, examples, max_steps=1, precision=requested)
    assert metrics["precision"] == requested and metrics["compute_dtype"] == "float32"  # CPU weights stay fp32
    assert made[0].bf16 is (requested == "bf16")

