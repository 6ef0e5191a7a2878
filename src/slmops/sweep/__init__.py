"""Hyperparameter search over the pipeline: Optuna picks the values, each trial is a DVC experiment."""
