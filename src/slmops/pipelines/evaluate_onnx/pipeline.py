from kedro.pipeline import Pipeline, node

from slmops.pipelines.evaluate_onnx.nodes import gate_quality, measure_onnx_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(measure_onnx_model,
             ["onnx_model", "merged_model", "validation_examples", "predictions", "params:evaluate", "params:export",
              "eval_metrics", "export_target", "merged_model_lineage"],
             ["export_metrics", "model_card"], name="measure_onnx_model"),
        # A separate node, so the metrics are written even when the gate then fails the stage.
        node(gate_quality, ["export_metrics", "params:export"], None, name="gate_quality"),
    ])
