"""train.loss: completion-only cross-entropy, label smoothing, class weights, a user's own function."""

from __future__ import annotations

import sys

import pytest

from slmops.config.train import LossParams
from slmops.errors import ConfigError
from slmops.modeling.encoding import IGNORE_INDEX, CompletionOnlyLogitsCollator
from slmops.pipelines.train.losses import build_loss, completion_weights

ROWS = [  # prompt tokens carry IGNORE_INDEX; completions: [7, 8] three times, [9] once
    {"input_ids": [1, 2, 3, 7, 8], "labels": [IGNORE_INDEX] * 3 + [7, 8]},
    {"input_ids": [4, 5, 7, 8], "labels": [IGNORE_INDEX] * 2 + [7, 8]},
    {"input_ids": [6, 7, 8], "labels": [IGNORE_INDEX] + [7, 8]},
    {"input_ids": [1, 5, 6, 2, 9], "labels": [IGNORE_INDEX] * 4 + [9]},
]


def _batch_and_logits(tiny_bundle):
    batch = CompletionOnlyLogitsCollator(pad_token_id=0)(ROWS)
    model = tiny_bundle.model
    outputs = model(**batch)
    return batch, outputs


def _manual(outputs, batch, smoothing=0.0, row_weights=None):
    import torch

    logits, labels = outputs.logits[:, :-1], batch["labels"][:, 1:]
    per_token = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE_INDEX,
                                                  label_smoothing=smoothing, reduction="none")
    if row_weights is not None:
        per_token = per_token * torch.tensor(row_weights).unsqueeze(1)
    return per_token.sum() / (labels != IGNORE_INDEX).sum()


def test_the_default_loss_is_the_models_own_on_completion_tokens_only(tiny_bundle):
    assert build_loss(LossParams(), ROWS) is None  # the model's cross-entropy: labels -100 on the prompt
    batch, outputs = _batch_and_logits(tiny_bundle)
    assert outputs.loss.item() == pytest.approx(_manual(outputs, batch).item(), rel=1e-5)
    # Completion-only: exactly the 2 + 2 + 2 + 1 completion tokens carry labels, each its own token.
    kept = batch["labels"] != IGNORE_INDEX
    assert int(kept.sum()) == 7
    assert sorted(batch["labels"][kept].tolist()) == sorted(t for r in ROWS for t in r["labels"] if t != IGNORE_INDEX)


def test_label_smoothing(tiny_bundle):
    batch, outputs = _batch_and_logits(tiny_bundle)
    loss = build_loss(LossParams(label_smoothing=0.1), ROWS)(outputs, batch["labels"])
    assert loss.item() == pytest.approx(_manual(outputs, batch, smoothing=0.1).item(), rel=1e-5)
    assert abs(loss.item() - outputs.loss.item()) > 1e-4


def test_class_weights_count_rare_completions_more(tiny_bundle):
    weights = completion_weights(ROWS)
    assert weights[(9,)] == pytest.approx(3 * weights[(7, 8)])
    assert sum(weights[(7, 8)] for _ in range(3)) + weights[(9,)] == pytest.approx(4.0)  # mean row weight 1
    batch, outputs = _batch_and_logits(tiny_bundle)
    loss = build_loss(LossParams(class_weights=True), ROWS)(outputs, batch["labels"])
    expected = _manual(outputs, batch, row_weights=[weights[(7, 8)]] * 3 + [weights[(9,)]])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_a_user_loss_is_imported_only_when_named_and_gets_next_token_pairs(tmp_path, monkeypatch, tiny_bundle):
    (tmp_path / "my_losses.py").write_text(
        "CALLS = []\n"
        "def shifted_sum(logits, labels, num_items_in_batch=None):\n"
        "    CALLS.append((tuple(logits.shape), tuple(labels.shape)))\n"
        "    return logits.sum() * 0 + 1.5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    build_loss(LossParams(), ROWS)
    assert "my_losses" not in sys.modules
    function = build_loss(LossParams(function="my_losses:shifted_sum"), ROWS)
    batch, outputs = _batch_and_logits(tiny_bundle)
    assert function(outputs, batch["labels"]).item() == 1.5
    keep = batch["logits_to_keep"]
    assert sys.modules["my_losses"].CALLS == [((4, keep - 1, outputs.logits.shape[-1]), (4, keep - 1))]


def test_a_user_loss_that_cannot_be_imported_says_so():
    with pytest.raises(ConfigError, match="train.loss.function: cannot import 'no_such_package.losses:f'"):
        build_loss(LossParams(function="no_such_package.losses:f"), ROWS)


def test_the_trainer_uses_the_named_loss(tmp_path, monkeypatch, tiny_model_dir, examples):
    from helpers.training import train_tiny

    (tmp_path / "counted_loss.py").write_text(
        "import torch\n"
        "CALLS = []\n"
        "def loss(logits, labels, num_items_in_batch=None):\n"
        "    CALLS.append(1)\n"
        "    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _, _, metrics, *_ = train_tiny(tmp_path, tiny_model_dir, examples, max_steps=2,
                                     loss={"function": "counted_loss:loss"})
    assert metrics["steps"] == 2 and len(sys.modules["counted_loss"].CALLS) == 2
