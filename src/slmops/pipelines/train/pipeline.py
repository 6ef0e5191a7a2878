from kedro.pipeline import Pipeline, node

from slmops.pipelines.train.nodes import train_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(train_model,
             ["base_model", "train_examples_path", "validation_examples_path", "params:train", "checkpoint_dir",
              "tensorboard_dir"],
             ["adapter", "merged_model", "train_metrics", "loss_history", "validation_loss_history", "train_resources"],
             name="train_model"),
    ])
