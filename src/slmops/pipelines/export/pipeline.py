from kedro.pipeline import Pipeline, node

from slmops.pipelines.export.nodes import build_onnx_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(build_onnx_model,
             ["merged_model", "base_model", "adapter", "extra_adapters_dir", "params:export", "params:base_model",
              "params:train", "export_target"],
             "onnx_model", name="build_onnx_model"),
    ])
