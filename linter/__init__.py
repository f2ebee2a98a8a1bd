"""tunelint's linter: text in, findings and statistics out. No editor, no torch."""

from tunelint import __version__

__all__ = ["__version__"]
