"""The train pipeline."""
