from __future__ import annotations

import numpy as np
import pytest

from gradcheck.errors import EvalError
from gradcheck.functions import LARGE, inv

RNG = np.random.default_rng(0)
A = RNG.standard_normal((LARGE + 8, LARGE + 8))


@pytest.mark.parametrize("a", [A, np.asfortranarray(A), A.T, A + 1j * RNG.standard_normal(A.shape), A[:40, :40]],
                         ids=["C order", "Fortran order", "transposed view", "complex", "small"])
def test_inv_agrees_with_numpy_in_every_memory_order(a: np.ndarray) -> None:
    before = a.copy()
    np.testing.assert_allclose(inv(a), np.linalg.inv(a), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(a, before)  # the argument is not overwritten


@pytest.mark.parametrize("n", [3, LARGE + 1])
def test_inv_of_a_singular_matrix_is_an_evaluation_error(n: int) -> None:
    with pytest.raises(EvalError, match="inv: singular matrix"):
        inv(np.zeros((n, n)))
