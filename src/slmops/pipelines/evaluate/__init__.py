"""The evaluate pipeline."""
