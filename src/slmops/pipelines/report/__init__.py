"""The report pipeline: what was trained on what, how it scored, how each ONNX target performs."""
