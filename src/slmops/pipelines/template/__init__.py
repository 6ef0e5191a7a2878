"""The template pipeline."""
