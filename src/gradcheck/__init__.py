"""gradcheck: check matrix-calculus claims numerically.

``gradcheck.check(f, grad, x)`` checks a derivative written as Python functions (of any
number of inputs, arrays or trees of them, real or complex); ``gradcheck.torch`` and
``gradcheck.jax`` check PyTorch's and JAX's backward passes; the ``gradcheck`` command
checks catalogues of identity files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real types for type checkers; imported lazily at run time
    from gradcheck.api import Result, assert_check, check

__version__ = "0.1.0"
__all__ = ["Result", "assert_check", "check", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `gradcheck --help` does not pay for NumPy.
    if name in ("check", "assert_check", "Result"):
        from gradcheck import api

        return getattr(api, name)
    raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")
