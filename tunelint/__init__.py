"""tunelint: correct chat fine-tuning data before anyone spends a GPU-hour on it."""

__version__ = "0.1.0"
