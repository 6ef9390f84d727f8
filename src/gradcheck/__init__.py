"""gradcheck: check matrix-calculus claims numerically.

``gradcheck.check(f, grad, x)`` checks a derivative written as Python functions; the
``gradcheck`` command checks catalogues of identity files.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["check", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `gradcheck --help` does not pay for NumPy.
    if name == "check":
        from gradcheck.api import check

        return check
    raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")
