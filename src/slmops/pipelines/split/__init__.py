"""The split pipeline."""
