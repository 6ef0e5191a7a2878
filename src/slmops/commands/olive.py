"""`slmops finetune` and `slmops optimize` (alias `auto-opt`): the Olive guide's commands, run as DVC experiments.

Each flag becomes a params.yaml override (`dvc exp run -S`), so the run is cached, compared
(`dvc exp show`) and traced like any other. A flag with no counterpart here stops with its name.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from slmops.errors import ConfigError

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
ANSWER_FIELD = "output"  # the Olive guide's answer placeholder; otherwise the template's last one
PROVIDERS = {"cpu": "cpu", "cpuexecutionprovider": "cpu", "cuda": "cuda", "cudaexecutionprovider": "cuda",
             "dml": "dml", "dmlexecutionprovider": "dml", "webgpu": "webgpu", "webgpuexecutionprovider": "webgpu"}
DEVICE_PROVIDER = {"cpu": "cpu", "gpu": "cuda"}
PRECISIONS = ("int4", "fp16", "fp32", "int8")


def split_text_template(template: str) -> tuple[str, str, str]:
    """Split one Olive `--text_template` into our (prompt, completion) templates and the answer's field.

    The answer starts at `{output}` (or the last placeholder when there is none): everything before
    it is the prompt, it and everything after it the completion. `\\n` and `\\t` typed in a shell
    become real newlines and tabs. Our plain-text rendering appends one newline to the prompt, so
    one trailing newline is taken off here: the rendered prompt is exactly the template's.
    """
    text = template.replace("\\n", "\n").replace("\\t", "\t")
    fields = [m for m in _PLACEHOLDER.finditer(text) if m.group(1)]
    if not fields:
        raise ConfigError("--text_template: no {field} placeholder: name the answer's field, e.g. {output}")
    answer = next((m for m in reversed(fields) if m.group(1) == ANSWER_FIELD), fields[-1])
    prompt, completion = text[:answer.start()], text[answer.start():]
    if not any(m.start() < answer.start() for m in fields):
        raise ConfigError(f"--text_template: nothing before {{{answer.group(1)}}} to prompt with")
    return prompt.removesuffix("\n"), completion, answer.group(1)


def hydra_value(value: Any) -> str:
    """A value as `dvc exp run -S` (Hydra's override grammar) reads it back unchanged."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{hydra_value(v)}" for k, v in value.items()) + "}"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def finetune_overrides(options: dict[str, Any]) -> dict[str, Any]:
    """params.yaml keys for `slmops finetune`'s options (those given)."""
    o = {k: v for k, v in options.items() if v is not None and v != ()}
    out: dict[str, Any] = {}
    simple = {"model_name_or_path": "base_model.name_or_path", "trust_remote_code": "base_model.trust_remote_code",
              "method": "train.method", "max_steps": "train.max_steps", "learning_rate": "train.learning_rate",
              "num_train_epochs": "train.epochs", "per_device_train_batch_size": "train.batch_size",
              "gradient_accumulation_steps": "train.gradient_accumulation_steps", "max_seq_len": "train.max_length",
              "logging_steps": "train.logging_steps", "save_steps": "train.save_steps", "seed": "train.seed",
              "lora_r": "train.lora.r", "lora_alpha": "train.lora.alpha", "lora_dropout": "train.lora.dropout",
              "per_device_eval_batch_size": "evaluate.batch_size", "train_split": "data.hf_split"}
    out.update({key: o[name] for name, key in simple.items() if name in o})
    if "target_modules" in o:
        out["train.lora.target_modules"] = [m.strip() for m in o["target_modules"].split(",") if m.strip()]
    if "data_files" in o and "data_name" in o:
        raise ConfigError("--data_files and --data_name both name the data: give one")
    if "data_files" in o:
        out["data.source"] = o["data_files"]
        out["data.format"] = "auto"
    if "data_name" in o:
        out["data.source"] = o["data_name"]
        out["data.format"] = "hf_hub"
    if "eval_split" in o:  # the split stage then uses it as given instead of carving one out
        out["data.validation"] = {"hf_split": o["eval_split"]}
    if "text_template" in o:
        prompt, completion, answer = split_text_template(o["text_template"])
        fields = list(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(prompt + completion) if m.group(1)))
        out.update({"template.system": None, "template.prompt": prompt, "template.completion": completion,
                    "template.use_chat_template": False, "data.required_fields": fields,
                    "template.label_field": o.get("label_field")})  # null: F1 over answer tokens
    elif "label_field" in o:
        out["template.label_field"] = o["label_field"]
    out.update(report_to_overrides(o.get("report_to")))
    return out


# Olive's --report_to (Hugging Face's): TensorBoard logs are always written (data/08_reporting/tensorboard, with the
# resource curves); MLflow is this project's lineage.mlflow. Other trackers have no counterpart here.
REPORT_TO = {"tensorboard": {}, "mlflow": {"lineage.mlflow.enabled": True}}


def report_to_overrides(report_to: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in (n.strip().lower() for n in (report_to or "").split(",") if n.strip()):
        if name not in REPORT_TO:
            raise ConfigError(f"--report_to {name}: not supported; TensorBoard logs are always written "
                              f"(data/08_reporting/tensorboard), and mlflow turns on lineage.mlflow")
        out.update(REPORT_TO[name])
    return out


def tensorboard_run(root: Path) -> Path:
    """The TensorBoard folder of the run `train` last finished (train.json names it)."""
    import json

    metrics = json.loads((root / "reports/metrics/train.json").read_text(encoding="utf-8"))
    return root / "data/08_reporting/tensorboard" / metrics["tensorboard_run"]


def target_name(precision: str, device: str | None, provider: str | None) -> tuple[str, dict[str, Any]]:
    """The export target (`<provider>-<precision>`, as in params.yaml) and its options."""
    if provider is not None:
        ep = PROVIDERS.get(provider.lower())
        if ep is None:
            raise ConfigError(f"--provider {provider}: not one of {', '.join(sorted(set(PROVIDERS.values())))} "
                              "(or their ExecutionProvider names)")
    else:
        ep = DEVICE_PROVIDER.get((device or "cpu").lower())
        if ep is None:
            raise ConfigError(f"--device {device}: not one of cpu, gpu")
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision {precision}: not one of {', '.join(PRECISIONS)}")
    return f"{ep}-{precision}", {"precision": precision, "execution_provider": ep}


def optimize_overrides(options: dict[str, Any], current_options: dict[str, Any]) -> dict[str, Any]:
    name, target = target_name(options.get("precision") or "int4", options.get("device"), options.get("provider"))
    out: dict[str, Any] = {"export.targets": [name]}
    if name not in current_options:  # keep a configured target's builder options as they are
        if target["precision"] == "int4":  # the block size quantization-aware training used
            target["builder_options"] = {"block_size": 32}
        out[f"export.target_options.{name}"] = target
    if options.get("model_name_or_path"):
        out["base_model.name_or_path"] = options["model_name_or_path"]
    return out


def check_adapter_path(root: Path, adapter_path: str) -> None:
    """Only this pipeline's own adapter can be exported: the export builds from the model `train` merged."""
    ours = root / "data/06_models/adapter"
    given = Path(adapter_path)
    files = sorted(p.relative_to(given) for p in given.rglob("*") if p.is_file()) if given.is_dir() else []
    same = files and ours.is_dir() and all((ours / f).is_file() and (ours / f).read_bytes() == (given / f).read_bytes()
                                           for f in files)
    if not same:
        raise ConfigError(f"--adapter_path {adapter_path}: not the adapter this pipeline trained "
                          "(data/06_models/adapter, or the -o folder of `slmops finetune`): exporting an outside "
                          "adapter is not supported; run `slmops finetune` with its data first")


def unsupported(extra: list[str]) -> None:
    flags = [a for a in extra if a.startswith("-")] or extra
    if flags:
        raise click.UsageError(f"{flags[0]} is an Olive option slmops does not support "
                               "(see `--help` for the ones it maps to params.yaml)")


def run_experiment(overrides: dict[str, Any], name: str | None, runner: Callable[..., Any] = subprocess.run) -> int:
    command = ["dvc", "exp", "run"] + (["-n", name] if name else [])
    for key, value in overrides.items():
        command += ["-S", f"++{key}={hydra_value(value)}"]
    click.echo("$ " + shlex.join(command), err=True)
    return runner(command, check=False).returncode


def copy_output(source: Path, output: str | None) -> None:
    if output:
        destination = Path(output)
        shutil.rmtree(destination, ignore_errors=True)
        shutil.copytree(source, destination)
        click.echo(f"copied {source} to {destination}")


def exit_on(code: int) -> None:
    if code:
        sys.exit(code)
