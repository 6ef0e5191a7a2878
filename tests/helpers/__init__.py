"""Builders shared by several test modules (tests import these, never each other).

- `helpers.training`: the tiny train/evaluate setup: TEMPLATE, DATA, templated SNIPS examples, `train_tiny`.
- `helpers.onnx_export`: the ONNX export setup: EXPORT, PROMPTS, `build`, `saved`, PyTorch's predictions.
- `helpers.remote`: a reproduced project pushed to a local-folder DVC remote.
"""
