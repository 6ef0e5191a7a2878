"""The base_model pipeline."""
