"""For tests that compare a trained model with its merge: an adapter that does something, and its logits."""

from __future__ import annotations

PROMPT = "play some jazz"


def give_adapter_values(model, only: str | None = "lora_B") -> None:
    """Seeded random values (std 0.05) added to parameters whose name holds ``only`` (PEFT starts lora_B at zero,
    so a fresh adapter merges as nothing), or to every trainable parameter where ``only`` is None."""
    import torch

    torch.manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if (only in name) if only is not None else parameter.requires_grad:
                parameter.add_(torch.randn_like(parameter) * 0.05)


def logits_of(model, tokenizer, text: str = PROMPT):
    """The model's logits for one prompt, in eval mode without autograd."""
    import torch

    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    model.eval()
    with torch.inference_mode():
        return model(input_ids=ids).logits
