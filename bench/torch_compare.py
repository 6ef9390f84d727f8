"""torch.autograd.gradcheck on the catalogue's derivative claims, for comparison.

Each derivative claim becomes a custom autograd Function: forward evaluates the identity's
function (NumPy), backward returns the claimed derivative (with the same planted error as
gradcheck's own benchmark). `torch.autograd.gradcheck` at its defaults then compares that
backward pass with its own finite differences, which is how people check hand-written
backward passes. Imported by sensitivity.py when PyTorch is installed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from planted import PlantedPoint

from gradcheck.catalogue import Claim, Identity
from gradcheck.errors import GradcheckError
from gradcheck.forms import is_scalar
from gradcheck.sampling import draw_sample, identity_rng


def _gradient(claim_value: np.ndarray, claim: Claim, f_shape: tuple[int, ...],
              x_shape: tuple[int, ...], grad_out: np.ndarray) -> np.ndarray:
    """The vector-Jacobian product grad_out^T J that a derivative claim states."""
    if is_scalar(f_shape):
        g = claim_value.reshape(x_shape) if is_scalar(claim_value.shape) else claim_value
        if claim.layout == "numerator" and len(x_shape) == 2:
            g = g.T
        return float(np.sum(grad_out)) * g
    jac = claim_value if claim.layout == "numerator" else claim_value.T
    back = jac.T @ grad_out.reshape(-1, order="F")
    return back.reshape(x_shape, order="F")


def checker(identity: Identity, claim: Claim, delta: float, seed: int = 0,
            fast_mode: bool = False) -> bool | None:
    """True if torch's gradcheck accepts the (planted) claim, None if it cannot be set up."""
    sizes = identity.sizes()
    point = PlantedPoint(identity, draw_sample(identity, sizes, identity_rng(seed, identity.name), 0), delta)
    wrt = claim.wrt or ""
    base = dict(point.sample.values)

    class Claimed(torch.autograd.Function):
        @staticmethod
        def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            ctx.x = x.detach().numpy()  # type: ignore[attr-defined]
            value = point.at({wrt: ctx.x}) if not np.array_equal(ctx.x, base[wrt]) else point.value
            return torch.from_numpy(np.array(value, dtype=float))

        @staticmethod
        def backward(ctx: object, grad_out: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            c = point.claim(claim.expr, f"claim {claim.index}") if np.array_equal(ctx.x, base[wrt]) else None  # type: ignore[attr-defined]
            if c is None:
                raise RuntimeError("backward away from the sample is not supported")
            g = _gradient(c, claim, point.value.shape, base[wrt].shape, grad_out.numpy())
            return torch.from_numpy(np.array(g, dtype=float))

    x = torch.tensor(base[wrt], dtype=torch.float64, requires_grad=True)
    try:
        return bool(torch.autograd.gradcheck(Claimed.apply, (x,), raise_exception=False, fast_mode=fast_mode))
    except (GradcheckError, RuntimeError, ValueError):
        return None


def detection(identities: Sequence[Identity], delta: float, fast_mode: bool = False) -> tuple[int, int]:
    """(caught, total) over the derivative claims that torch accepts unplanted."""
    caught = total = 0
    for identity in identities:
        for claim in identity.claims:
            if claim.form != "derivative" or claim.expect_fail:
                continue
            if checker(identity, claim, 0.0, fast_mode=fast_mode) is not True:
                continue  # torch rejects (or cannot run) the claim as written: not comparable
            total += 1
            caught += checker(identity, claim, delta, fast_mode=fast_mode) is False
    return caught, total
