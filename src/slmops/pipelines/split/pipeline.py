from kedro.pipeline import Pipeline, node

from slmops.pipelines.split.nodes import split_train_validation


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(split_train_validation, ["examples", "params:split", "params:data"],
             ["train_examples", "validation_examples", "test_examples", "split_summary"],
             name="split_train_validation"),
    ])
