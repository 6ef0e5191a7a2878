from kedro.pipeline import Pipeline, node

from slmops.pipelines.base_model.nodes import materialize_base_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([node(materialize_base_model, "params:base_model", ["base_model", "base_model_metrics"],
                          name="materialize_base_model")])
