"""`slmops finetune` and `slmops optimize` / `auto-opt`: the Olive guide's flags as params.yaml overrides."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from slmops.commands.olive import (
    check_adapter_path,
    copy_output,
    exit_on,
    finetune_overrides,
    optimize_overrides,
    run_experiment,
    tensorboard_run,
    unsupported,
)
from slmops.errors import SlmopsError

_LENIENT = {"ignore_unknown_options": True, "allow_extra_args": True}


def _fail(error: SlmopsError) -> None:
    click.secho(f"error: {error}", fg="red", err=True)
    raise SystemExit(2)


@click.command(context_settings=_LENIENT)
@click.option("-m", "--model_name_or_path", help="base_model.name_or_path (HF id or local folder)")
@click.option("--trust_remote_code", is_flag=True, default=None, help="base_model.trust_remote_code")
@click.option("--data_files", help="data.source: a local file (JSONL, JSON, CSV, Parquet)")
@click.option("-d", "--data_name", help="data.source as an HF dataset id (data.format: hf_hub)")
@click.option("--train_split", help='data.hf_split, e.g. "train[:4096]"')
@click.option("--eval_split", help='data.validation.hf_split, e.g. "train[4096:4224]": used as given, not carved out')
@click.option("--text_template", help="split at {output} (else the last placeholder) into template.prompt/completion")
@click.option("--label_field", help="template.label_field (macro-F1 over labels; default: F1 over answer tokens)")
@click.option("--method", type=click.Choice(["lora", "qlora", "dora"]), help="train.method")
@click.option("--max_steps", type=int, help="train.max_steps")
@click.option("--num_train_epochs", type=int, help="train.epochs")
@click.option("--learning_rate", type=float, help="train.learning_rate")
@click.option("--per_device_train_batch_size", type=int, help="train.batch_size")
@click.option("--per_device_eval_batch_size", type=int, help="evaluate.batch_size")
@click.option("--gradient_accumulation_steps", type=int, help="train.gradient_accumulation_steps")
@click.option("--max_seq_len", type=int, help="train.max_length")
@click.option("--logging_steps", type=int, help="train.logging_steps")
@click.option("--save_steps", type=int, help="train.save_steps")
@click.option("--seed", type=int, help="train.seed")
@click.option("--lora_r", type=int, help="train.lora.r")
@click.option("--lora_alpha", type=int, help="train.lora.alpha")
@click.option("--lora_dropout", type=float, help="train.lora.dropout")
@click.option("--target_modules", help="train.lora.target_modules, comma-separated")
@click.option("--report_to", help="tensorboard (always written) | mlflow (lineage.mlflow.enabled); comma-separated")
@click.option("--logging_dir", help="copy this run's TensorBoard logs (loss, resource curves) here once it completes")
@click.option("-o", "--output_path", help="copy the trained adapter here once the run completes")
@click.option("-n", "--name", help="the DVC experiment's name")
@click.pass_context
def finetune(ctx: click.Context, output_path: str | None, name: str | None, logging_dir: str | None,
             **options: object) -> None:
    """Fine-tune as `olive finetune` does, as a DVC experiment of the whole pipeline."""
    unsupported(ctx.args)
    try:
        overrides = finetune_overrides(options)
    except SlmopsError as error:
        _fail(error)
    exit_on(run_experiment(overrides, name))
    copy_output(Path("data/06_models/adapter"), output_path)
    if logging_dir:
        copy_output(tensorboard_run(Path.cwd()), logging_dir)


@click.command(context_settings=_LENIENT)
@click.option("-m", "--model_name_or_path", help="base_model.name_or_path")
@click.option("--adapter_path", help="the adapter to export: this pipeline's own (data/06_models/adapter or finetune -o)")
@click.option("--precision", default="int4", show_default=True, help="int4 | fp16 | fp32 | int8")
@click.option("--device", help="cpu | gpu")
@click.option("--provider", help="CPUExecutionProvider | CUDAExecutionProvider | DmlExecutionProvider | WebGpuExecutionProvider")
@click.option("-o", "--output_path", help="copy the ONNX model here once the run completes")
@click.option("-n", "--name", help="the DVC experiment's name")
@click.pass_context
def optimize(ctx: click.Context, output_path: str | None, name: str | None, adapter_path: str | None,
             **options: object) -> None:
    """Export (and measure) the fine-tuned model as `olive optimize` / `olive auto-opt` does, as a DVC experiment."""
    unsupported(ctx.args)
    root = Path.cwd()
    try:
        if adapter_path:
            check_adapter_path(root, adapter_path)
        params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
        overrides = optimize_overrides(options, params["export"]["target_options"])
    except SlmopsError as error:
        _fail(error)
    exit_on(run_experiment(overrides, name))
    copy_output(Path("data/07_model_output/onnx") / overrides["export.targets"][0], output_path)
