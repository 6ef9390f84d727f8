"""Python functions as an identity: calls, outputs and Jacobians in every order."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck import pyfunc
from gradcheck.errors import EvaluationError


def test_a_complex_leaf_is_two_real_inputs() -> None:
    z = np.array([1 + 2j, 3 - 1j])
    call = pyfunc.make_call(["z", "y"], [z, np.array([1, 2])], [True, False], single=True)
    assert [p.name for p in call.parts] == ["z.real", "z.imag"]
    point = call.point()
    assert np.array_equal(point["z.real"], [1, 3]) and np.array_equal(point["z.imag"], [2, -1])
    moved, labels = call.arguments_at([np.array([5.0, 6.0]), np.array([7.0, 8.0])])
    assert np.array_equal(moved, [5 + 7j, 6 + 8j]) and labels is call.values[1]


def test_an_output_tree_is_packed_and_a_cotangent_unpacked() -> None:
    value = {"s": np.float64(2.0), "z": np.array([1 + 1j, 2 - 3j])}
    out = pyfunc.observe(value, "f")
    assert not out.plain and out.describe() == "a tree {'s': array, 'z': array}"
    packed = out.pack(value, "f")
    assert np.array_equal(packed, [2.0, 1.0, 2.0, 1.0, -3.0])
    back = out.unpack(packed)
    assert back["s"] == 2.0 and np.array_equal(back["z"], value["z"])
    with pytest.raises(EvaluationError, match=r"jvp returned shape \(3,\), expected \(2,\) \(as f\)"):
        out.pack({"s": 1.0, "z": np.ones(3)}, "jvp")
    with pytest.raises(EvaluationError, match=r"jvp returned a tree \(array, array\), expected a tree"):
        out.pack((1.0, 2.0), "jvp")


def test_float32_outputs_are_single_precision() -> None:
    assert pyfunc.observe(np.float32(1.0), "f").single_precision
    assert not pyfunc.observe([np.float32(1.0), np.float64(2.0)], "f").single_precision


@pytest.mark.parametrize(("f_shape", "x_shape"), [((2, 3), (4, 5)), ((6,), (2, 2, 2)), ((2, 2, 3), (3,))])
def test_jacobian_orders_round_trip(f_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> None:
    full = np.random.default_rng(0).standard_normal(f_shape + x_shape)
    column = pyfunc._to_column(full, f_shape, x_shape)
    m, n = int(np.prod(f_shape)), int(np.prod(x_shape))
    # entry (vec_F(f)_i, vec_F(x)_j) of the column-major Jacobian
    i, j = np.unravel_index(5, f_shape, order="F"), np.unravel_index(2, x_shape, order="F")
    assert column.shape == (m, n) and column[5, 2] == full[i + j]
    assert np.array_equal(pyfunc._from_column(column, f_shape, x_shape), full)


def test_user_exceptions_become_evaluation_errors() -> None:
    def bad(x: object) -> None:
        raise KeyError("missing")

    with pytest.raises(EvaluationError, match="^grad raised KeyError: 'missing'$"):
        pyfunc.guarded(bad, "grad")(1)
