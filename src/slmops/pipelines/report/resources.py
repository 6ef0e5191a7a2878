"""The report's "Where the time and memory went": each stage's time and peak memory, training's curves, the machine.

Reads the per-stage records (``reports/resources/<stage>.json``), the training curve and the resource
figures in ``train.json`` tolerantly: a stage without a record is left out, a missing field shows n/a,
and with no records and no curve the section is skipped.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from slmops.config import Params
from slmops.config.train import BF16_CPU_FLAGS
from slmops.pipelines.report.markdown import MISSING, code, fmt_count, fmt_score, md, table

# dvc.yaml's stage order; a stage this list does not know goes just before the report.
STAGE_ORDER = ("adapter", "base_model", "inputs", "ingest", "template", "split", "train", "evaluate", "export",
               "evaluate_onnx", "report")
MEMORY_SHARE_LIMIT = 0.8  # above this share of the machine's memory the kernel's OOM killer is close
MATMUL_UTILISATION_FLOOR = 0.25  # a LoRA step on a small model reaching less than this has settings to gain from


def number(value: Any) -> float | None:
    """A finite number, or None (missing, null, NaN, text)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value == value else None


def ordered_stages(stage_resources: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """The stage records in pipeline order; ``export@cpu-int4`` sorts with ``export``."""
    def position(name: str) -> tuple[float, str]:
        stage = name.split("@")[0]
        return (STAGE_ORDER.index(stage) if stage in STAGE_ORDER else STAGE_ORDER.index("report") - 0.5, name)

    records = {name: doc for name, doc in (stage_resources or {}).items() if isinstance(doc, dict)}
    return [(name, records[name]) for name in sorted(records, key=position)]


def peak_memory(record: dict[str, Any]) -> tuple[float | None, bool]:
    """The stage's peak RSS in MB, the larger of its own and its largest child's; True when the child's."""
    own, child = number(record.get("peak_rss_mb")), number(record.get("children_peak_rss_mb"))
    if child is not None and (own is None or child > own):
        return child, True
    return own, False


def machine_memory_mb(record: dict[str, Any]) -> float | None:
    memory = number((record.get("machine") or {}).get("memory_gib"))
    return memory * 1024 if memory else None


def _gpu_text(gpu: Any) -> str:
    if not gpu:
        return "no GPU"
    if isinstance(gpu, dict):
        memory = number(gpu.get("memory_gib"))
        return f"GPU {md(gpu.get('name', 'unknown'))}" + (f" ({memory:.1f} GiB)" if memory else "")
    return f"GPU {md(gpu)}"


def describe_machine(machine: dict[str, Any]) -> str:
    """One line of Markdown: CPU model, usable of logical CPUs, memory, SIMD flags, GPU."""
    usable, logical = machine.get("usable_cpus"), machine.get("logical_cpus")
    cpus = f"{fmt_count(usable)} of {fmt_count(logical)} logical CPUs usable" if usable != logical else \
        f"{fmt_count(logical)} logical CPUs"
    memory = number(machine.get("memory_gib"))
    simd = machine.get("simd") or []
    parts = [md(machine.get("cpu") or "unknown CPU"), cpus, f"{memory:.1f} GiB memory" if memory else "memory n/a",
             "SIMD " + " ".join(code(flag) for flag in simd) if simd else "no SIMD flags recorded",
             _gpu_text(machine.get("gpu"))]
    return ", ".join(parts)


def machines_line(records: list[tuple[str, dict[str, Any]]]) -> str | None:
    """Which machine ran which stages: one line when all ran on one machine."""
    by_machine: dict[str, list[str]] = {}
    for name, record in records:
        if isinstance(record.get("machine"), dict):
            by_machine.setdefault(describe_machine(record["machine"]), []).append(code(name))
    if len(by_machine) == 1:
        return f"Machine: {next(iter(by_machine))}."
    return " ".join(f"{', '.join(stages)} ran on: {machine}." for machine, stages in by_machine.items()) or None


def _seconds(value: Any) -> str:
    return fmt_score(number(value), 1)


def stages_table(records: list[tuple[str, dict[str, Any]]]) -> str:
    gpu = any(number(record.get("peak_gpu_memory_mb")) is not None for _, record in records)
    header = ["Stage", "Wall (s)", "Start-up (s)", "Nodes (s)", "Peak RSS (MB)", *(["Peak GPU (MB)"] if gpu else []),
              "Finished (UTC)"]
    rows = []
    for name, record in records:
        peak, is_child = peak_memory(record)
        memory = (f"{peak:,.0f}" if peak is not None else MISSING) + (" (child process)" if is_child else "")
        finished = str(record.get("finished_at") or "")
        row = [code(name), _seconds(record.get("wall_seconds")), _seconds(record.get("startup_seconds")),
               _seconds(record.get("nodes_seconds")), memory]
        row += [fmt_score(number(record.get("peak_gpu_memory_mb")), 0)] if gpu else []
        row.append(md(finished[:16].replace("T", " ")) if finished else MISSING)  # to the minute
        rows.append(row)
    return table(header, rows, "lrrrr" + "r" * gpu + "l")


def _mean(curve: pd.DataFrame | None, column: str) -> float | None:
    if curve is None or column not in curve:
        return None
    return number(pd.to_numeric(curve[column], errors="coerce").mean())


def training_sentences(train_metrics: dict[str, Any], curve: pd.DataFrame | None) -> list[str]:
    """Throughput against the machine's measured matmul rate, peak memory, CPU use, the monitor's own cost."""
    sentences = []
    speed, rate = number(train_metrics.get("tokens_per_second")), number(train_metrics.get("model_gflops_per_second"))
    peak, share = number(train_metrics.get("matmul_peak_gflops")), number(train_metrics.get("matmul_utilisation"))
    if speed is not None and rate is not None and peak and share is not None:
        sentences.append(f"Training ran at {speed:.1f} tokens/s, an estimated {rate:.1f} GFLOP/s of model "
                         f"arithmetic: {100 * share:.0f}% of the {peak:.1f} GFLOP/s this machine's dense matmuls "
                         f"reached in {md(train_metrics.get('precision') or 'the training dtype')}.")
    elif speed is not None:
        sentences.append(f"Training ran at {speed:.1f} tokens/s.")
    rss = number(train_metrics.get("peak_rss_mb"))
    if rss is None and curve is not None and "rss_mb" in curve:
        rss = number(pd.to_numeric(curve["rss_mb"], errors="coerce").max())
    if rss is not None:
        sentences.append(f"Peak RSS while training: {rss:,.0f} MB.")
    cpu = _mean(curve, "cpu_percent")
    if cpu is not None:
        sentences.append(f"The training process used on average {cpu:.0f}% of the CPUs it may use.")
    monitoring, seconds = number(train_metrics.get("monitoring_share")), number(train_metrics.get("monitoring_seconds"))
    if monitoring is not None:
        spent = f" ({seconds:.2f} s)" if seconds is not None else ""
        sentences.append(f"Recording these figures took {100 * monitoring:.2f}% of training time{spent}.")
    return sentences


def resources_context(stage_resources: dict[str, Any] | None, train_resources: pd.DataFrame | None,
                      train_metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The section's content, or None when this run recorded no stage and no training curve."""
    records = ordered_stages(stage_resources)
    curve = train_resources if isinstance(train_resources, pd.DataFrame) and not train_resources.empty else None
    if not records and curve is None:
        return None
    return {"table": stages_table(records) if records else None, "machines": machines_line(records),
            "training": training_sentences(train_metrics, curve),
            "has_report_record": any(name == "report" for name, _ in records)}


def _memory_advice(params: Params, records: list[tuple[str, dict[str, Any]]]) -> list[str]:
    shares = []
    for name, record in records:
        peak, memory = peak_memory(record)[0], machine_memory_mb(record)
        if peak and memory:
            shares.append((peak / memory, peak, memory, name))
    if not shares:
        return []
    share, peak, memory, name = max(shares)
    if share <= MEMORY_SHARE_LIMIT:
        return []
    said = (f"`{name}` peaked at {peak:,.0f} MB RSS, {100 * share:.0f}% of this machine's {memory / 1024:.1f} GiB "
            f"(above {100 * MEMORY_SHARE_LIMIT:.0f}%, where the kernel's out-of-memory killer is close)")
    train = params.train
    if name.split("@")[0] == "train":
        return [f"{said}: set `train.gradient_checkpointing` to true (now "
                f"{str(train.gradient_checkpointing).lower()}) or lower `train.batch_size` (now {train.batch_size}, "
                f"with `train.gradient_accumulation_steps` to keep the effective batch)."]
    return [f"{said}: run that stage on a machine with more memory."]


def _throughput_advice(params: Params, train_metrics: dict[str, Any], machine: dict[str, Any]) -> list[str]:
    share = number(train_metrics.get("matmul_utilisation"))
    rate, peak = number(train_metrics.get("model_gflops_per_second")), number(train_metrics.get("matmul_peak_gflops"))
    if share is None or rate is None or not peak or share >= MATMUL_UTILISATION_FLOOR:
        return []
    train = params.train
    precision = str(train_metrics.get("precision") or train.precision)
    bf16 = [flag for flag in machine.get("simd") or [] if flag in BF16_CPU_FLAGS]
    hint = (f"this machine has {' '.join(code(flag) for flag in bf16)}, so bf16 is native here" if bf16 and
            precision != "bf16" else "bf16 where the CPU has AVX512-BF16 or AMX")
    ran = f"{md(precision)}, {md(train_metrics.get('attention') or train.attention)}"
    return [f"Training reached an estimated {rate:.1f} GFLOP/s, {100 * share:.0f}% of the {peak:.1f} GFLOP/s this "
            f"machine's dense matmuls reach (below {100 * MATMUL_UTILISATION_FLOOR:.0f}%): try `train.precision` "
            f"({hint}) and `train.attention` (this run: {ran}), or a larger `train.batch_size` (now "
            f"{train.batch_size}) so each matmul is larger."]


def resource_advice(params: Params, stage_resources: dict[str, Any] | None,
                    train_metrics: dict[str, Any]) -> list[str]:
    """Memory close to the machine's limit, throughput far below its matmul rate: each with its numbers."""
    records = ordered_stages(stage_resources)
    machine = next((r.get("machine") for name, r in records if name == "train"), None)
    machine = machine if isinstance(machine, dict) else {}
    return _memory_advice(params, records) + _throughput_advice(params, train_metrics, machine)
