"""The trainer: one job (folder paths + params) run in this process, alone or as one rank of many.

Every rank trains; only the main process (rank 0) writes the outputs. Checkpoints go to the run
folder and a cut-off identical run resumes from the newest complete one.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from slmops.config import TrainParams, parse
from slmops.errors import InputDataError
from slmops.modeling.encoding import CompletionOnlyLogitsCollator, encode_examples
from slmops.modeling.precision import precision_reason, training_arguments_precision, training_precision
from slmops.modeling.shared_prefix import SharedPrefixCollator, accept_shared_prefix
from slmops.pipelines.train.callbacks import MarkCompleteCheckpoints, StopWhenValidationLossStalls
from slmops.pipelines.train.history import loss_frames
from slmops.pipelines.train.job import TrainJob, read_rows
from slmops.pipelines.train.loading import compute_dtype_for, load_base_model, training_device
from slmops.pipelines.train.losses import build_loss
from slmops.pipelines.train.monitor import COLUMNS, PortableTensorBoardCallback, ResourceMonitor, write_other_ranks
from slmops.pipelines.train.methods import merge_for_export, merge_from_folders, wrap_for_training
from slmops.pipelines.train.quantization_aware import reusing_rounded_weights
from slmops.pipelines.train.run_folder import latest_complete_checkpoint
from slmops.resources.machine import usable_cpus
from slmops.resources.matmul import matmul_gflops
from slmops.resources.process import peak_rss_mb

log = logging.getLogger(__name__)

NO_ADAPTER_NOTE = """# No adapter

`train.method: full` trains every weight, so there is no adapter: the trained model is
`data/06_models/merged_model/`. This folder exists so the `train` stage's outputs are the same for
every method.
"""


def training_arguments(params: TrainParams, run_folder: str, validating: bool, precision: str = "fp32") -> Any:
    from transformers import TrainingArguments

    return TrainingArguments(
        **training_arguments_precision(precision),
        output_dir=run_folder,
        num_train_epochs=params.epochs,
        max_steps=params.max_steps or -1,
        per_device_train_batch_size=params.batch_size,
        per_device_eval_batch_size=params.batch_size,
        gradient_accumulation_steps=params.gradient_accumulation_steps,
        activation_checkpointing=params.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if params.gradient_checkpointing else None,
        learning_rate=params.learning_rate,
        weight_decay=params.weight_decay,
        lr_scheduler_type="constant_with_warmup" if params.lr_scheduler == "constant" else params.lr_scheduler,
        warmup_steps=params.warmup_ratio,  # a float below 1 is a ratio of the total steps
        logging_steps=params.logging_steps,
        logging_first_step=True,
        eval_strategy="steps" if validating else "no",
        eval_steps=params.validation_steps,
        prediction_loss_only=True,
        save_strategy="steps",
        save_steps=params.save_steps,
        save_total_limit=1,
        seed=params.seed,
        data_seed=params.seed,
        train_sampling_strategy="group_by_length" if params.group_by_length else "random",
        use_cpu=training_device() == "cpu",
        dataloader_pin_memory=False,
        remove_unused_columns=False,
        report_to="none",  # the TensorBoard callback is added explicitly, pointed at our folder
        ddp_find_unused_parameters=False,
    )


def _trainer_class() -> type:
    from transformers import Trainer

    class CountingTrainer(Trainer):
        """Counts the rows and tokens this process trained on (each rank sees its own share)."""

        rows_trained = 0
        tokens_trained = 0
        tokens_computed = 0  # the shared prefix counts once per batch: it runs once (for the arithmetic estimate)

        def training_step(self, model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            self.rows_trained += int(inputs["input_ids"].shape[0])
            prefix = inputs.get("prefix_ids")  # SharedPrefixCollator: the rows' shared prefix, sent once
            shared = int(prefix.shape[1]) * int(inputs["input_ids"].shape[0]) if prefix is not None else 0
            self.tokens_trained += int(inputs["attention_mask"].sum()) + shared
            prefix_once = int(prefix.shape[1]) if prefix is not None else 0
            self.tokens_computed += int(inputs["attention_mask"].sum()) + prefix_once
            with reusing_rounded_weights(model):  # quantization-aware layers round once a step, not once a forward
                return super().training_step(model, inputs, *args, **kwargs)

    return CountingTrainer


def run_training(job: TrainJob) -> None:
    from accelerate.utils import gather_object
    from transformers import AutoTokenizer, set_seed

    params: TrainParams = parse(TrainParams, job.params, "train")
    train_rows = read_rows(job.train_split)
    if not train_rows:
        raise InputDataError(job.train_split, "no training examples")
    validating = params.validation_steps is not None
    validation_rows = read_rows(job.validation_split) if validating else []
    if validating and not validation_rows:
        raise InputDataError(job.validation_split, "no validation examples, but train.validation_steps is set")
    set_seed(params.seed)
    device = training_device()
    precision = training_precision(device, params.precision)  # auto: bf16 where the hardware has it natively
    log.info("Training precision: %s", precision_reason(device, precision, params.precision))
    args = training_arguments(params, job.run_folder, validating, precision)
    tokenizer = AutoTokenizer.from_pretrained(job.base_model, trust_remote_code=job.trust_remote_code)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_base_model(Path(job.base_model), params, job.trust_remote_code)
    trainable = wrap_for_training(model, params)
    # Rows that begin alike (system prompt, chat header) share that prefix's compute within a batch;
    # activation checkpointing recomputes layers without the prefix cache, so it keeps whole rows.
    share_prefix = not params.gradient_checkpointing
    if share_prefix:
        trainable = accept_shared_prefix(trainable)
    collator_class = SharedPrefixCollator if share_prefix else CompletionOnlyLogitsCollator
    encoded = encode_examples(tokenizer, train_rows, params.max_length)
    encoded_validation = encode_examples(tokenizer, validation_rows, params.max_length)

    callbacks: list[Any] = [MarkCompleteCheckpoints()]
    writer = None
    if args.should_save:  # the main process logs; the others would write duplicate event files
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=job.tensorboard_dir)
        callbacks.append(PortableTensorBoardCallback(writer, os.getcwd()))  # cwd: the project root, as for every path
    peak = matmul_gflops(device, compute_dtype_for(device, precision)) if args.should_save else None
    monitor = ResourceMonitor(lambda: (trainer.rows_trained, trainer.tokens_trained), args.process_index,
                              usable_cpus(), device, writer)
    callbacks.append(monitor)
    stopper = None
    if params.early_stopping is not None:
        stopper = StopWhenValidationLossStalls(params.early_stopping.patience, params.early_stopping.min_delta)
        callbacks.append(stopper)
    trainer = _trainer_class()(
        model=trainable, args=args, train_dataset=encoded, eval_dataset=encoded_validation or None,
        data_collator=collator_class(pad_token_id=tokenizer.pad_token_id),
        compute_loss_func=build_loss(params.loss, encoded), callbacks=callbacks,
    )
    resume_from = latest_complete_checkpoint(Path(job.run_folder))
    if resume_from and args.should_save:
        log.info("Resuming an identical run that was cut off, from %s", resume_from)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - started
    per_rank, computed = _gather_counts(trainer)
    resource_rows = gather_object(monitor.rows)  # every rank's rows, on every rank
    if writer is not None:
        write_other_ranks(writer, resource_rows)
        writer.close()

    sharded = trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled
    if sharded:  # every rank takes part in gathering the weights
        trainer.save_model(str(job.merged_model_dir if params.method == "full" else job.adapter_dir))
    if trainer.is_world_process_zero():
        metrics = {
            "method": params.method,
            "distributed": params.distributed,
            "world_size": int(trainer.accelerator.num_processes),
            "rows_per_rank": [r for r, _ in per_rank],
            "epochs": params.epochs,
            "max_steps": params.max_steps,
            "steps": int(trainer.state.global_step),
            "train_rows": len(train_rows),
            "validation_rows": len(validation_rows),
            "truncated_rows": sum(1 for e in encoded if e["truncated"]),
            "train_tokens": sum(t for _, t in per_rank),
            "train_seconds": round(seconds, 2),
            "tokens_per_second": round(sum(t for _, t in per_rank) / seconds, 1) if seconds > 0 else None,
            "mean_loss": round(float(result.training_loss), 4),
            "trainable_parameters": int(sum(p.numel() for p in trainable.parameters() if p.requires_grad)),
            "total_parameters": int(sum(p.numel() for p in trainable.parameters())),
            "resumed_from_step": int(resume_from.name.rsplit("-", 1)[1]) if resume_from else None,
            "early_stopped_at_step": stopper.stopped_at if stopper else None,
            "device": device,
            "compute_dtype": str(compute_dtype_for(device, precision)).removeprefix("torch."),
            "precision": precision,
            "attention": getattr(trainable.config, "_attn_implementation", None),
            "shared_prefix": share_prefix,
            "tensorboard_run": Path(job.tensorboard_dir).name,  # data/08_reporting/tensorboard/<this>
            **cost_figures(trainable, monitor, seconds, computed, peak, params.method),
        }
        _write_outputs(job, params, trainer, trainable, tokenizer, metrics, sharded)
        pd.DataFrame(resource_rows, columns=list(COLUMNS)).to_csv(job.resources_file, index=False)
    trainer.accelerator.wait_for_everyone()


def cost_figures(trainable: Any, monitor: ResourceMonitor, seconds: float, computed: list[int],
                 peak_gflops: float | None, method: str) -> dict[str, Any]:
    """What training cost this process: memory, the monitor's own time, throughput against the matmul peak."""
    import torch

    # Tokens this rank ran through the layers (a batch's shared prefix once), per second.
    tokens_per_second = sum(computed) / seconds / len(computed) if seconds > 0 else 0.0
    head = trainable.get_output_embeddings()
    linear = sum(m.weight.numel() for m in trainable.modules()
                 if isinstance(m, torch.nn.Linear) and m is not head)  # the LM head runs on completion tokens only
    # Per token: forward 2 FLOPs per weight, backward 2 more for activation gradients, 2 more for weight gradients
    # when every weight trains (an adapter's own gradients are negligible). Attention scores are left out: an
    # estimate on the low side.
    model_gflops = (6 if method == "full" else 4) * linear * tokens_per_second / 1e9
    return {
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_training_mb": monitor.rss_before_training_mb,
        "monitoring_seconds": round(monitor.seconds, 3),
        "monitoring_share": round(monitor.seconds / seconds, 5) if seconds > 0 else None,
        "matmul_peak_gflops": peak_gflops,
        "model_gflops_per_second": round(model_gflops, 2),
        "matmul_utilisation": round(model_gflops / peak_gflops, 4) if peak_gflops else None,
    }


def _gather_counts(trainer: Any) -> tuple[list[tuple[int, int]], list[int]]:
    """Per rank: (rows, tokens trained on), and the tokens run through the layers."""
    import torch

    counts = torch.tensor([[trainer.rows_trained, trainer.tokens_trained, trainer.tokens_computed]],
                          device=trainer.args.device)
    gathered = trainer.accelerator.gather(counts).tolist()
    return [(int(rows), int(tokens)) for rows, tokens, _ in gathered], [int(c) for _, _, c in gathered]


def _write_outputs(job: TrainJob, params: TrainParams, trainer: Any, trainable: Any, tokenizer: Any,
                   metrics: dict[str, Any], sharded: bool) -> None:
    train_loss, validation_loss = loss_frames(trainer.state.log_history)
    metrics["final_loss"] = float(train_loss["loss"].iloc[-1]) if len(train_loss) else None
    metrics["final_validation_loss"] = (float(validation_loss["validation_loss"].iloc[-1])
                                        if len(validation_loss) else None)
    Path(job.outputs).mkdir(parents=True, exist_ok=True)
    if params.method == "full":
        job.adapter_dir.mkdir(parents=True, exist_ok=True)
        (job.adapter_dir / "README.md").write_text(NO_ADAPTER_NOTE)
    elif not sharded:
        trainable.save_pretrained(job.adapter_dir, safe_serialization=True)
    dtype = compute_dtype_for(training_device(), metrics["precision"])
    if sharded or params.method == "qlora":
        saved = job.merged_model_dir if params.method == "full" else job.adapter_dir
        del trainer, trainable  # free the trained copy before loading the merged one
        merged = merge_from_folders(Path(job.base_model), saved, params, dtype, job.trust_remote_code)
    else:
        trainable.eval()
        merged = merge_for_export(trainable, params)
    merged.config.use_cache = True
    merged.save_pretrained(job.merged_model_dir, safe_serialization=True)
    tokenizer.save_pretrained(job.merged_model_dir)
    train_loss.to_csv(job.train_loss_file, index=False)
    validation_loss.to_csv(job.validation_loss_file, index=False)
    job.metrics_file.write_text(json.dumps(metrics, indent=2))
