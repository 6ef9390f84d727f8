"""gradcheck: check matrix-calculus claims numerically."""

__version__ = "0.1.0"
