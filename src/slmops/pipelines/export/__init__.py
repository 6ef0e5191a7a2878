"""The export pipeline."""
