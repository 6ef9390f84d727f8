"""Checking derivatives written as Python functions (the NumPy world's answer to
`torch.autograd.gradcheck`), with the same judge and result objects as the command line.

>>> import numpy as np, gradcheck
>>> X = np.array([[2.0, 1.0], [0.5, 3.0]])
>>> result = gradcheck.check(lambda X: np.log(np.linalg.det(X)), lambda X: np.linalg.inv(X).T, X)
>>> result.status.value
'PASS'
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import numpy as np

from gradcheck.catalogue import Claim, Identity, Variable
from gradcheck.checker import check_identity
from gradcheck.expr import Expr
from gradcheck.options import Options
from gradcheck.sampling import Sample
from gradcheck.verdict import DEFAULT_RTOL, ClaimResult


def check(f: Callable[[np.ndarray], Any], grad: Callable[[np.ndarray], Any], x: Any, *,
          layout: str = "denominator", method: str = "central", rtol: float = DEFAULT_RTOL,
          seed: int = 0, name: str = "check") -> ClaimResult:
    """Check that `grad(x)` is the derivative of `f` at `x`.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns an array (a scalar, a vector or a matrix).
    grad : callable
        ``grad(x)`` returns the claimed derivative, in `layout`: ``"denominator"``
        (for a scalar f, the gradient shaped like x) or ``"numerator"`` (shaped like
        x transposed; for a non-scalar f, the Jacobian of vec(f) w.r.t. vec(x)).
    x : array_like
        The point.
    method : {"central", "richardson", "complex"}
        Numerical method; ``"complex"`` needs f to accept complex input and be
        complex-analytic (you vouch for that).

    Returns
    -------
    ClaimResult
        ``.status`` (PASS, FAIL or ERROR), ``.error``, ``.noise``, ``.hint`` (a
        diagnosis of a failure, e.g. "matches the claim transposed"), ``.message``.

    Notes
    -----
    The error measure and the tolerance are those of the catalogue checker (see
    docs/format.md): the relative error must be within the numerical error estimate,
    plus `rtol`.
    """
    if layout not in ("numerator", "denominator"):
        raise ValueError(f"`layout` must be 'numerator' or 'denominator', got {layout!r}")
    given = np.asarray(x)
    if np.iscomplexobj(given):
        # never a silent cast: the imaginary part would be dropped and a claim checked at
        # another point than the one given
        raise ValueError("`x` is complex: gradcheck.check takes a real point")
    if given.dtype.kind not in "biuf":
        raise ValueError(f"`x` must be numbers, got an array of {given.dtype}")
    point = np.array(given, dtype=float)
    if not np.all(np.isfinite(point)):
        raise ValueError("`x` has entries that are not finite")
    if point.ndim > 2:
        raise ValueError(f"`x` must be a scalar, a vector or a matrix, got shape {point.shape}")
    function = Expr.from_callable(f, "f(x)", ["x"], analytic=method == "complex")
    claimed = Expr.from_callable(grad, "grad(x)", ["x"])
    identity = Identity(name=name, path="<python>", inputs=(Variable("x", point.shape),), function=function,
                        claims=(Claim(1, "derivative", claimed, wrt="x", layout=layout),))
    point.setflags(write=False)
    sample = Sample(name, 0, MappingProxyType({}), MappingProxyType({"x": point}))
    options = Options(trials=1, seed=seed, rtol=rtol, method=method, timeout=None)
    return check_identity(identity, options, sampler=lambda sizes, trial: sample)[0]
