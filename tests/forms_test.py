from __future__ import annotations

import numpy as np
import pytest

from gradcheck.forms import derivative_action


@pytest.mark.parametrize("layout", ["numerator", "denominator"])
@pytest.mark.parametrize("kind", ["real", "complex", "transposed", "fortran"])
def test_a_scalar_derivatives_action_is_the_summed_product(layout: str, kind: str) -> None:
    rng = np.random.default_rng(2)
    c = rng.standard_normal((5, 7) if layout == "denominator" else (7, 5))
    d = rng.standard_normal((5, 7))
    if kind == "complex":
        d = d + 1j * rng.standard_normal((5, 7))
    elif kind == "transposed":
        d = rng.standard_normal((7, 5)).T
    elif kind == "fortran":
        d = np.asfortranarray(d)
    g = c.T if layout == "numerator" else c
    act = derivative_action(c, layout, (), (5, 7))
    assert complex(act(d)) == pytest.approx(complex(np.sum(g * d)), rel=1e-13)
    assert complex(act(d)) == pytest.approx(complex(act(d.copy())), rel=1e-13)  # the same whatever the layout
