"""The evaluate_onnx pipeline."""
