from kedro.pipeline import Pipeline, node

from slmops.pipelines.evaluate_onnx.nodes import measure_onnx_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(measure_onnx_model,
             ["onnx_model", "merged_model", "validation_examples", "params:evaluate", "params:export",
              "eval_metrics", "export_target"],
             "export_metrics", name="measure_onnx_model"),
    ])
