from kedro.pipeline import Pipeline, node

from slmops.pipelines.template.nodes import apply_template


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(apply_template, ["records", "params:template", "params:data", "base_model", "params:train.max_length"],
             "examples", name="apply_template"),
    ])
