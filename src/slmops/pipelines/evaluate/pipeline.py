from kedro.pipeline import Pipeline, node

from slmops.pipelines.evaluate.nodes import evaluate_models


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(evaluate_models, ["base_model", "merged_model", "validation_examples", "params:evaluate",
                                  "params:export.speed", "params:train.quantization_aware"],
             ["eval_metrics", "eval_details", "eval_samples", "predictions"], name="evaluate_models"),
    ])
