"""Fine-tune the base model on the training examples (loss on completions only)."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd

from slmops.config import TrainParams, parse
from slmops.errors import InputDataError
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.encoding import CompletionOnlyLogitsCollator, encode_examples
from slmops.pipelines.train.methods import merge_for_export, wrap_for_training
from slmops.pipelines.train.run_folder import prepare_run_folder, run_fingerprint

log = logging.getLogger(__name__)


def _training_arguments(params: TrainParams, output_dir: Path) -> Any:
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=params.epochs,
        per_device_train_batch_size=params.batch_size,
        gradient_accumulation_steps=params.gradient_accumulation_steps,
        learning_rate=params.learning_rate,
        weight_decay=params.weight_decay,
        lr_scheduler_type=params.lr_scheduler,
        warmup_steps=params.warmup_ratio,  # a float below 1 is a ratio of the total steps
        logging_steps=params.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=params.save_steps,
        save_total_limit=1,
        save_only_model=False,
        seed=params.seed,
        data_seed=params.seed,
        train_sampling_strategy="group_by_length" if params.group_by_length else "random",
        use_cpu=not _cuda_available(),
        dataloader_pin_memory=False,
        remove_unused_columns=False,
        report_to="none",  # the TensorBoard callback is added explicitly, pointed at our folder
        disable_tqdm=False,
    )


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def loss_history_frame(log_history: list[dict[str, Any]]) -> pd.DataFrame:
    rows = [{"step": e["step"], "epoch": e.get("epoch"), "loss": e["loss"], "learning_rate": e.get("learning_rate")}
            for e in log_history if "loss" in e]
    return pd.DataFrame(rows, columns=["step", "epoch", "loss", "learning_rate"])


def train_adapter(base_model: ModelBundle, train_examples: list[dict[str, Any]], train_params: dict[str, Any],
                  checkpoint_dir: Path, tensorboard_dir: Path
                  ) -> tuple[Any, ModelBundle, dict[str, Any], pd.DataFrame]:
    """Train; return the adapter model, the merged model, metrics, and the loss curve."""
    import torch
    from torch.utils.tensorboard import SummaryWriter
    from transformers import Trainer, set_seed
    from transformers.integrations import TensorBoardCallback

    params: TrainParams = parse(TrainParams, train_params, "train")
    if not train_examples:
        raise InputDataError("data/05_model_input/train.jsonl", "no training examples")
    set_seed(params.seed)
    tokenizer = base_model.tokenizer
    model = base_model.model
    model.config.use_cache = False  # no KV cache while training: saves memory and time
    trainable = wrap_for_training(model, params)
    encoded = encode_examples(tokenizer, train_examples, params.max_length)

    fingerprint = run_fingerprint(train_params, train_examples, model.config.to_dict())
    run_folder, resume_from = prepare_run_folder(Path(checkpoint_dir), fingerprint)
    if resume_from:
        log.info("Resuming an identical run that was cut off, from %s", resume_from)
    writer = SummaryWriter(log_dir=str(Path(tensorboard_dir) / fingerprint))
    trainer = Trainer(
        model=trainable,
        args=_training_arguments(params, run_folder),
        train_dataset=encoded,
        data_collator=CompletionOnlyLogitsCollator(pad_token_id=tokenizer.pad_token_id),
        callbacks=[TensorBoardCallback(tb_writer=writer)],
    )
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - started
    writer.close()

    trainable.eval()
    merged = merge_for_export(trainable, params)
    merged.config.use_cache = True
    tokens = int(sum(e["length"] for e in encoded) * params.epochs)
    history = loss_history_frame(trainer.state.log_history)
    metrics = {
        "method": params.method,
        "epochs": params.epochs,
        "steps": int(trainer.state.global_step),
        "train_rows": len(train_examples),
        "train_tokens": tokens,
        "train_seconds": round(seconds, 2),
        "tokens_per_second": round(tokens / seconds, 1) if seconds > 0 else None,
        "final_loss": float(history["loss"].iloc[-1]) if len(history) else None,
        "mean_loss": round(float(result.training_loss), 4),
        "trainable_parameters": int(sum(p.numel() for p in trainable.parameters() if p.requires_grad)),
        "total_parameters": int(sum(p.numel() for p in trainable.parameters())),
        "resumed_from": Path(resume_from).name if resume_from else None,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
    }
    # Checkpoints exist to survive a crash; once the adapter is saved by Kedro they are dead weight.
    shutil.rmtree(run_folder, ignore_errors=True)
    return trainable, ModelBundle(model=merged, tokenizer=tokenizer), metrics, history
