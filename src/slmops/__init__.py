"""slmops: fine-tune a small language model and ship it, optimized, to each hardware target."""

__version__ = "0.1.0"
