"""Kedro project settings."""

from kedro.config import OmegaConfigLoader

from slmops.hooks import ValidateParamsHook
from slmops.lineage.hook import LineageHook
from slmops.resources.hook import StageResourcesHook

HOOKS = (ValidateParamsHook(), LineageHook(), StageResourcesHook())

CONFIG_LOADER_CLASS = OmegaConfigLoader
# Kedro reads the root params.yaml itself, the same file DVC tracks: no copy to drift.
# The pattern is relative to conf/<env>/, so it names the project root's file from either env.
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "config_patterns": {
        "parameters": ["parameters*", "parameters*/**", "../../params.yaml"],
        # The catalog reads a few values (data source, trust_remote_code) from the same file.
        "globals": ["globals*", "../../params.yaml"],
    },
}
