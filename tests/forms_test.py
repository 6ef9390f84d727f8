from __future__ import annotations

import numpy as np
import pytest

from gradcheck import forms
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


@pytest.mark.parametrize("kind", ["real", "complex", "transposed"])
def test_a_large_derivative_acts_as_it_lies_without_a_copy(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond LAID_OUT_LIMIT the claim is not copied (the copy would be held while f is
    evaluated along the directions); its action is the same sum."""
    monkeypatch.setattr(forms, "LAID_OUT_LIMIT", 10)
    copies: list[np.ndarray] = []
    contiguous = np.ascontiguousarray
    monkeypatch.setattr(np, "ascontiguousarray", lambda a: copies.append(a) or contiguous(a))
    rng = np.random.default_rng(3)
    c = rng.standard_normal((7, 5))  # numerator layout: acts as its transpose, which lies across
    d = rng.standard_normal((5, 7))
    if kind == "complex":
        d = d + 1j * rng.standard_normal((5, 7))
    elif kind == "transposed":
        d = rng.standard_normal((7, 5)).T
    act = derivative_action(c, "numerator", (), (5, 7))
    assert complex(act(d)) == pytest.approx(complex(np.sum(c.T * d)), rel=1e-13)
    assert copies == []
