from kedro.pipeline import Pipeline, node

from slmops.pipelines.export.nodes import build_onnx_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(build_onnx_model, ["merged_model", "params:export", "export_target"], "onnx_model",
             name="build_onnx_model"),
    ])
