"""Report inputs shaped like the files the earlier stages write, built with the real metric functions."""

from __future__ import annotations

import copy
import math
from typing import Any

import pandas as pd

from slmops.metrics import TaskSpec, delta, difference_intervals, score_predictions

LABELS = ["AddToPlaylist", "BookRestaurant", "GetWeather", "PlayMusic"]
COMMIT = "3f2a9c1d4b5e6f708192a3b4c5d6e7f801234567"
MERGED_MD5 = "9e107d9d372bb6826bd81d3542a419d6.dir"
RAW_MD5 = "e4d909c290d0fb1ca068ffaddf22cbd0"
STALE_REPORT_MD5 = "0123456789abcdef0123456789abcdef"


def make_parameters() -> dict[str, Any]:
    return {
        "base_model": {"name_or_path": "embedded:SmolLM2-135M-Instruct", "revision": None, "trust_remote_code": False},
        "data": {"source": "data/01_raw/snips-intents.jsonl", "format": "auto", "hf_split": None,
                 "required_fields": ["text", "label"]},
        "template": {"system": "Classify the request as one intent. Answer with the intent only.",
                     "prompt": "{text}", "completion": "{label}", "label_field": "label", "use_chat_template": True},
        "train": {"method": "lora", "epochs": 1, "learning_rate": 0.0003, "lora": {"r": 16, "alpha": 32}},
        "evaluate": {"max_new_tokens": 12, "base_with_label_list": True},
        "export": {"targets": ["cpu-int4"], "target_options": {"cpu-int4": {"precision": "int4",
                                                                             "execution_provider": "cpu"}}},
        "report": {"title": "slmops: SmolLM2 on SNIPS"},
    }


def references() -> list[str]:
    return [label for label in LABELS for _ in range(10)]


def generations(right: int, wrong_answer: str) -> list[str]:
    """The first ``right`` rows of each label answered correctly, the others ``wrong_answer``."""
    return [label if i < right else wrong_answer for label in LABELS for i in range(10)]


def evaluation(tuned_right: int = 9) -> tuple[dict[str, Any], dict[str, Any]]:
    """eval.json and eval_details.json as the evaluate node writes them, from scored fake generations."""
    spec = TaskSpec(kind="classification", labels=tuple(LABELS))
    refs = references()
    nll = [(0.5 * (i % 3), 2) for i in range(len(refs))]
    runs = {"base": score_predictions(generations(0, "Sure! I can help."), refs, spec, completion_nll=nll),
            "base_with_label_list": score_predictions(generations(4, "PlayMusic"), refs, spec),
            "tuned": score_predictions(generations(tuned_right, "GetWeather\nmaybe"), refs, spec,
                                       completion_nll=[(0.01, 2)] * len(refs))}
    metrics = {
        "rows": len(refs), "task": "classification", "labels": LABELS, "answer_pattern": None,
        **{name: dict(s.metrics, seconds=5.0) for name, s in runs.items()},
        "delta": delta(runs["tuned"].metrics, runs["base"].metrics),
        "intervals": {**{name: s.intervals for name, s in runs.items()},
                      "delta": difference_intervals(runs["tuned"], runs["base"], len(refs))},
    }
    return metrics, {
        "bootstrap": {"resamples": 1000, "seed": 0, "level": 0.95},
        "generation": {"max_new_tokens": 12, "do_sample": False},
        "methods": {"f1": "macro-F1 (scikit-learn)", "accuracy": "share of rows right"},
        "per_class": {name: s.per_class for name, s in runs.items()},
        "confusion": {name: s.confusion for name, s in runs.items()},
    }


def make_inputs(tuned_right: int = 9) -> dict[str, Any]:
    eval_metrics, eval_details = evaluation(tuned_right)
    onnx = {k: v - 0.01 for k, v in eval_metrics["tuned"].items() if k in ("f1", "accuracy")}
    return {
        "parameters": make_parameters(),
        "train_metrics": {"method": "lora", "steps": 114, "train_rows": 910, "train_seconds": 400.1,
                          "tokens_per_second": 175.0, "final_loss": 0.12, "trainable_parameters": 4884480,
                          "total_parameters": 139400000, "truncated_rows": 3},
        "split_summary": {"train": 910, "validation": 40, "test": 0,
                          "labels": {"train": {label: 130 for label in LABELS},
                                     "validation": {label: 10 for label in LABELS}, "test": {}}},
        "eval_metrics": eval_metrics,
        "eval_details": eval_details,
        "eval_samples": {"samples": [
            {"id": "ab12", "input": "play some jazz | loud", "reference": "PlayMusic",
             "base": "Sure! " + "I would love to help you with that request. " * 6, "tuned": "PlayMusic"},
            {"id": "cd34", "input": "<script>alert(1)</script> weather?", "reference": "GetWeather",
             "base": "It is *sunny*\nand warm", "tuned": "GetWeather"},
        ]},
        "all_export_metrics": {"cpu-int4": {
            "target": "cpu-int4", "precision": "int4", "execution_provider": "cpu", "size_mb": 86.2,
            "onnx": onnx, "intervals": {"onnx": {"f1": [0.8, 0.95]}},
            "delta": {k: -0.01 for k in onnx}, "load_seconds": 0.8, "peak_memory_mb": 310.0,
            "decode": {"prompts": 8, "new_tokens": 64, "onnx_tokens_per_second": 120.0,
                       "pytorch_tokens_per_second": 17.0, "speedup": 7.06, "onnx_first_token_ms": 50.0}}},
        "dvc_lock": {"schema": "2.0", "stages": {
            "ingest": {"deps": [{"path": "data/01_raw/snips-intents.jsonl", "hash": "md5", "md5": RAW_MD5,
                                 "size": 81234}],
                       "outs": [{"path": "data/02_intermediate/records.jsonl", "md5": "b1946ac9", "size": 90210}]},
            "train": {"outs": [{"path": "data/06_models/merged_model", "hash": "md5", "md5": MERGED_MD5,
                                "size": 538000000, "nfiles": 6}]},
            "report": {"outs": [{"path": "reports/report.md", "hash": "md5", "md5": STALE_REPORT_MD5}]},
        }},
        "code_revision": {"commit": COMMIT, "dirty": True},
    }


def make_predictions() -> list[dict[str, Any]]:
    return [{"id": f"r{i}", "reference": r, "prompt_tokens": 30 + i % 7, "completion_tokens": 3 + i % 2}
            for i, r in enumerate(references())]


def make_loss_history() -> pd.DataFrame:
    # The trainer logs loss and learning rate on some rows and only eval values on others.
    return pd.DataFrame({"step": [5, 10, 15, 20, 20], "epoch": [0.04, 0.09, 0.13, 0.18, 0.18],
                         "loss": [3.1, 1.2, 0.5, 0.3, math.nan], "learning_rate": [1e-4, 3e-4, 2.8e-4, 2.6e-4, math.nan]})


def make_validation_history(rising: bool = False) -> pd.DataFrame:
    losses = [1.5, 0.6, 0.9] if rising else [1.5, 0.6, 0.4]
    return pd.DataFrame({"step": [5, 10, 20], "epoch": [0.04, 0.09, 0.18], "validation_loss": losses})


def as_generation_task(inputs: dict[str, Any]) -> dict[str, Any]:
    """A free-text run that loops and runs out of tokens: no labels, no export targets, no DVC lock, no git."""
    inputs = copy.deepcopy(inputs)
    inputs["parameters"]["template"]["label_field"] = None
    inputs["parameters"]["evaluate"] = {"max_new_tokens": 64}
    inputs["split_summary"]["labels"] = {}
    refs = ["Amanda baked cookies and will bring Jerry some tomorrow.", "Tom and Anna meet at 5 at the station."]
    outputs = ["Amanda is talking about how Jerry is talking about how Tom is talking about how she", "Tom meets Anna."]
    spec = TaskSpec(kind="generation")
    base = score_predictions(["Hello", "Hi"], refs, spec, truncated=[False, False])
    tuned = score_predictions(outputs, refs, spec, truncated=[True, False])
    inputs["eval_metrics"] = {"rows": 2, "task": "generation", "labels": [], "base": base.metrics,
                              "tuned": tuned.metrics, "delta": delta(tuned.metrics, base.metrics),
                              "intervals": {"base": base.intervals, "tuned": tuned.intervals}}
    inputs["eval_details"] = {}
    inputs["all_export_metrics"], inputs["dvc_lock"] = {}, {}
    inputs["code_revision"] = {"commit": None, "dirty": None}
    return inputs


# --- issue 20: per-stage resource records, the training curve, quality split by the int4 grid ---------------

STAGES = ["base_model", "ingest", "template", "split", "train", "evaluate", "export@cpu-int4",
          "evaluate_onnx@cpu-int4", "report"]
MACHINE = {"cpu": "AMD EPYC 7B13", "logical_cpus": 2, "usable_cpus": 2, "memory_gib": 23.4,
           "simd": ["avx2", "avx512f", "avx512_bf16"], "gpu": None}


def make_stage_resources(train_peak_mb: float = 2150.2, children_peak_mb: float | None = None,
                         stages: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """reports/resources/<stage>.json as JSONFolderDataset loads them (file stem → document), shuffled order."""
    seconds = {"base_model": 14.2, "ingest": 3.1, "template": 3.4, "split": 2.9, "train": 612.3, "evaluate": 95.7,
               "export@cpu-int4": 48.6, "evaluate_onnx@cpu-int4": 37.5, "report": 6.8}
    peaks = {"base_model": 890.5, "ingest": 310.0, "template": 402.3, "split": 305.1, "train": train_peak_mb,
             "evaluate": 1410.8, "export@cpu-int4": 1875.4, "evaluate_onnx@cpu-int4": 990.0, "report": 420.6}
    records = {}
    for stage in reversed(stages or STAGES):  # the folder's order is not the pipeline's
        startup = 2.4 if stage == "train" else 1.8
        records[stage] = {
            "stage": stage, "wall_seconds": seconds[stage], "startup_seconds": startup,
            "nodes_seconds": round(seconds[stage] - startup, 1), "peak_rss_mb": peaks[stage],
            "children_peak_rss_mb": children_peak_mb if stage == "train" else None, "peak_gpu_memory_mb": None,
            "finished_at": "2026-12-07T01:00:00+00:00", "machine": copy.deepcopy(MACHINE)}
    return records


def make_train_resources(ranks: int = 1, gpu: bool = False) -> pd.DataFrame:
    """reports/resources/train.csv: one row per logging step per rank; GPU columns empty on a CPU."""
    rows = []
    for rank in range(ranks):
        for step in (5, 10, 15, 20):
            rows.append({"rank": rank, "step": step, "elapsed_seconds": 13.4 * step / 5,
                         "tokens_per_second": 140.0 + step + rank, "samples_per_second": 1.6,
                         "seconds_per_step": 2.68, "rss_mb": 1800.0 + 10 * step + 50 * rank, "cpu_percent": 92.5,
                         "gpu_allocated_mb": 900.0 + step if gpu else math.nan,
                         "gpu_reserved_mb": 1200.0 if gpu else math.nan,
                         "gpu_peak_mb": 1100.0 + step if gpu else math.nan,
                         "gpu_utilisation_percent": 71.0 if gpu else math.nan})
    return pd.DataFrame(rows)


def resource_train_metrics(utilisation: float = 0.12) -> dict[str, Any]:
    """train.json with the resource figures the train stage adds."""
    peak = 340.0
    return {**make_inputs()["train_metrics"], "precision": "fp32", "attention": "eager", "peak_rss_mb": 2150.2,
            "monitoring_seconds": 1.23, "monitoring_share": 0.0031, "matmul_peak_gflops": peak,
            "model_gflops_per_second": round(utilisation * peak, 2), "matmul_utilisation": utilisation}


def grid_evaluation(base_right: int, grid_right: int, tuned_right: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """eval.json/eval_details.json of a quantization-aware run: the base also scored on the int4 grid."""
    spec = TaskSpec(kind="classification", labels=tuple(LABELS))
    refs = references()
    runs = {"base": score_predictions(generations(base_right, "Sure! I can help."), refs, spec),
            "base_on_grid": score_predictions(generations(grid_right, "Sure! I can help."), refs, spec),
            "tuned": score_predictions(generations(tuned_right, "GetWeather\nmaybe"), refs, spec)}
    metrics, details = evaluation(tuned_right)
    metrics.pop("base_with_label_list")
    metrics.update({name: dict(s.metrics, seconds=5.0) for name, s in runs.items()})
    metrics["grid"] = {"bits": 4, "block_size": 64, "target": "merged"}
    metrics["delta"] = delta(runs["tuned"].metrics, runs["base"].metrics)
    metrics["delta_tuning"] = delta(runs["tuned"].metrics, runs["base_on_grid"].metrics)
    metrics["delta_grid"] = delta(runs["base_on_grid"].metrics, runs["base"].metrics)
    metrics["intervals"] = {**{name: s.intervals for name, s in runs.items()},
                            "delta": difference_intervals(runs["tuned"], runs["base"], len(refs)),
                            "delta_tuning": difference_intervals(runs["tuned"], runs["base_on_grid"], len(refs)),
                            "delta_grid": difference_intervals(runs["base_on_grid"], runs["base"], len(refs))}
    details["per_class"] = {name: s.per_class for name, s in runs.items()}
    details["confusion"] = {name: s.confusion for name, s in runs.items()}
    return metrics, details
