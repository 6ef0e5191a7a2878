from kedro.pipeline import Pipeline, node

from slmops.pipelines.train.nodes import train_adapter


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(train_adapter,
             ["base_model", "train_examples", "params:train", "checkpoint_dir", "tensorboard_dir"],
             ["adapter", "merged_model", "train_metrics", "loss_history"],
             name="train_adapter"),
    ])
