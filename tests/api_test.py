"""The Python API, imported from the installed package."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gradcheck
from gradcheck.api import Result
from gradcheck.verdict import Status

X = np.array([[2.0, 1.0, 0.0], [0.5, 3.0, 1.0], [0.0, 1.0, 4.0]])
RNG = np.random.default_rng(7)
A = RNG.standard_normal((3, 4))


def logdet(X: np.ndarray) -> float:
    return float(np.linalg.slogdet(X)[1])


def test_right_gradient_passes_in_both_layouts() -> None:
    result = gradcheck.check(logdet, lambda X: np.linalg.inv(X).T, X)
    assert isinstance(result, Result) and result.ok
    assert result.status is Status.PASS and result.error is not None and result.error < 1e-8
    assert gradcheck.check(logdet, np.linalg.inv, X, layout="numerator").status is Status.PASS


def test_layout_slip_is_diagnosed() -> None:
    result = gradcheck.check(logdet, np.linalg.inv, X)
    assert result.status is Status.FAIL
    assert result.hint == "matches the claim transposed: it holds in layout numerator"


def test_factor_and_jacobians() -> None:
    result = gradcheck.check(lambda x: x @ x, lambda x: x, np.arange(1.0, 4.0))
    assert result.hint == "off by a factor: numerical = 2 x claim"
    B = np.arange(6.0).reshape(2, 3)
    assert gradcheck.check(lambda x: B @ x, np.ones(3), jacobian=lambda x: B).ok
    assert gradcheck.check(lambda x: B @ x, np.ones(3), jacobian=lambda x: B.T).status is Status.ERROR


def test_complex_step_when_the_caller_vouches_for_it() -> None:
    result = gradcheck.check(lambda x: np.sum(np.sin(x) * x), lambda x: np.cos(x) * x + np.sin(x),
                             np.arange(3.0), method="complex")
    assert result.status is Status.PASS and result.method == "complex" and result.error < 1e-14


# -- several inputs, trees, any number of dimensions -----------------------------------

def squared(A: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((A @ x) ** 2))


def test_two_inputs_give_a_tuple_and_each_is_judged() -> None:
    x = np.arange(1.0, 5.0)
    right = gradcheck.check(squared, lambda A, x: (2 * np.outer(A @ x, x), 2 * A.T @ A @ x), A, x)
    assert right.ok and [p.description for p in right.parts] == ["grad wrt A", "grad wrt x"]
    slip = gradcheck.check(squared, lambda A, x: (2 * np.outer(A @ x, x), A.T @ A @ x), A, x)
    assert [p.status for p in slip.parts] == [Status.PASS, Status.FAIL]
    assert slip.status is Status.FAIL and slip.hint == "off by a factor: numerical = 2 x claim"


def test_wrt_selects_arguments_by_name_or_position() -> None:
    x = np.arange(1.0, 5.0)
    assert gradcheck.check(squared, lambda A, x: 2 * A.T @ A @ x, A, x, wrt="x").ok
    assert gradcheck.check(squared, lambda A, x: 2 * np.outer(A @ x, x), A, x, wrt=0).ok
    both = gradcheck.check(squared, lambda A, x: (2 * np.outer(A @ x, x),), A, x, wrt=[0])
    assert both.ok  # a sequence: derivatives come as a tuple


def test_an_integer_argument_is_held_fixed() -> None:
    labels = np.array([0, 2, 2])

    def picked(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.sum(x[y] ** 2))

    result = gradcheck.check(picked, lambda x, y: 2 * x * np.bincount(y, minlength=3), np.arange(1.0, 4.0), labels)
    assert result.ok and [p.description for p in result.parts] == ["grad wrt x"]


def test_a_dict_of_parameters() -> None:
    params = {"W": A, "b": np.zeros(3)}
    x = np.arange(1.0, 5.0)

    def layer(p: dict[str, np.ndarray], x: np.ndarray) -> float:
        return float(np.sum(np.tanh(p["W"] @ x + p["b"])))

    def grad(p: dict[str, np.ndarray], x: np.ndarray) -> dict[str, np.ndarray]:
        s = 1 - np.tanh(p["W"] @ x + p["b"]) ** 2
        return {"b": s, "W": np.outer(s, x)}  # any key order

    result = gradcheck.check(layer, grad, params, x, wrt="p")
    assert result.ok and [p.description for p in result.parts] == ["grad wrt p['W']", "grad wrt p['b']"]
    wrong = gradcheck.check(layer, lambda p, x: {"W": grad(p, x)["W"]}, params, x, wrt="p")
    assert wrong.status is Status.ERROR
    assert "expected a tree shaped like p: {'W': array, 'b': array}" in wrong.message


def test_arrays_of_three_dimensions() -> None:
    batch = RNG.standard_normal((2, 3, 3))
    f = lambda B: np.sum(np.einsum("bij,bjk->bik", B, B))  # noqa: E731
    right = lambda B: np.einsum("bik,bjk->bij", np.ones_like(B), B) + np.einsum("bji,bjk->bik", B, np.ones_like(B))  # noqa: E731
    assert gradcheck.check(f, right, batch).ok
    assert gradcheck.check(f, lambda B: np.swapaxes(right(B), 1, 2), batch).status is Status.FAIL


# -- the other forms: jacobian, vjp, jvp --------------------------------------------

B = RNG.standard_normal((2, 3))
C = RNG.standard_normal((3, 4))


def full_jacobian(C: np.ndarray) -> np.ndarray:  # d(B @ C)[i, j] / dC[k, l] = B[i, k] (j == l)
    return np.einsum("ik,jl->ijkl", B, np.eye(4))


def test_jacobian_in_every_shape_and_order() -> None:
    f = lambda C: B @ C  # noqa: E731
    assert gradcheck.check(f, C, jacobian=full_jacobian).ok  # f.shape + x.shape
    assert gradcheck.check(f, C, jacobian=lambda C: np.kron(np.eye(4), B)).ok  # column-major vec
    assert gradcheck.check(f, C, jacobian=lambda C: full_jacobian(C).reshape(8, 12), vec="row").ok


def test_a_row_major_jacobian_is_diagnosed() -> None:
    result = gradcheck.check(lambda C: B @ C, C, jacobian=lambda C: full_jacobian(C).reshape(8, 12))
    assert result.status is Status.FAIL
    assert result.hint.startswith("holds in row-major order") and result.hint.endswith("pass vec='row'")


def test_vjp_and_jvp_with_their_slips() -> None:
    M = X + np.eye(3)
    inv = np.linalg.inv
    assert gradcheck.check(inv, M, vjp=lambda A, G: -inv(A).T @ G @ inv(A).T).ok
    transposed = gradcheck.check(inv, M, vjp=lambda A, G: -inv(A) @ G.T @ inv(A))
    assert transposed.hint == "matches the claim transposed"
    assert gradcheck.check(lambda A: A @ A, M, jvp=lambda A, V: A @ V + V @ A).ok
    assert gradcheck.check(lambda A: A @ A, M, jvp=lambda A, V: -(A @ V + V @ A)).hint == "matches the claim negated"


def test_a_tree_of_outputs_through_vjp() -> None:
    x = np.arange(1.0, 4.0)
    f = lambda x: {"sum": np.sum(x), "sq": x**2}  # noqa: E731
    assert gradcheck.check(f, x, vjp=lambda x, g: g["sum"] + 2 * x * g["sq"]).ok
    assert gradcheck.check(f, x, vjp=lambda x, g: g["sum"] + x * g["sq"]).status is Status.FAIL
    assert gradcheck.check(f, x, jvp=lambda x, v: {"sum": np.sum(v), "sq": 2 * x * v}).ok


# -- complex inputs: PyTorch's convention ----------------------------------------------

Z = np.array([1.0 + 2.0j, -0.5 + 0.3j, 0.7 - 1.1j])


def test_complex_gradient_is_df_dx_plus_i_df_dy() -> None:
    f = lambda z: np.sum(np.abs(z) ** 2)  # noqa: E731
    right = gradcheck.check(f, lambda z: 2 * z, Z)
    assert right.ok and [p.description for p in right.parts] == ["grad wrt z.real", "grad wrt z.imag"]
    conjugated = gradcheck.check(f, lambda z: 2 * np.conj(z), Z)  # JAX's grad
    assert conjugated.status is Status.FAIL and conjugated.parts[1].hint == "matches the claim negated"


def test_complex_vjp_and_jvp_of_a_holomorphic_function() -> None:
    assert gradcheck.check(lambda z: z**2, Z, vjp=lambda z, g: g * np.conj(2 * z)).ok
    assert gradcheck.check(lambda z: z**2, Z, vjp=lambda z, g: g * 2 * z).status is Status.FAIL
    assert gradcheck.check(lambda z: z**2, Z, jvp=lambda z, v: 2 * z * v).ok


# -- single precision ----------------------------------------------------------------

def test_a_float32_function_is_judged_at_its_own_noise_floor() -> None:
    M = X + 3 * np.eye(3)
    f = lambda X: np.linalg.slogdet(X.astype(np.float32))[1]  # noqa: E731
    right = gradcheck.check(f, lambda X: np.linalg.inv(X.astype(np.float32)).T, M)
    assert right.ok, right.explain()
    assert right.notes and right.notes[0].startswith("f computes in single precision (float32)")
    assert re.search(r"relative errors below about \de-0\d cannot be seen", right.notes[0])
    assert gradcheck.check(f, lambda X: 1.05 * np.linalg.inv(X.astype(np.float32)).T, M).status is Status.FAIL
    assert gradcheck.check(f, lambda X: np.linalg.inv(X.astype(np.float32)), M).status is Status.FAIL


def test_a_float32_input_is_measured_in_float64() -> None:
    result = gradcheck.check(logdet, lambda X: np.linalg.inv(X).T, X.astype(np.float32))
    assert result.ok and not result.notes and result.error is not None and result.error < 1e-8


# -- more points -------------------------------------------------------------------------

def test_trials_near_the_point_and_from_a_kind() -> None:
    result = gradcheck.check(logdet, lambda X: np.linalg.inv(X).T, X, trials=3)
    assert result.ok and len(result.parts[0].readings) == 3
    spd = np.eye(3) * 2
    # at the symmetric point given inv(X) passes either way; drawn invertible points tell
    assert gradcheck.check(logdet, np.linalg.inv, spd).ok
    assert gradcheck.check(logdet, np.linalg.inv, spd, trials=2, kinds={"X": "invertible"}).status is Status.FAIL


# -- what goes wrong comes back as a result -------------------------------------------

def boom(*args: Any) -> Any:
    raise RuntimeError("out of memory\nmore text")


@pytest.mark.parametrize(("f", "grad", "point", "message"), [
    (boom, np.ones_like, np.ones(2), "f raised RuntimeError: out of memory"),
    (np.sum, boom, np.ones(2), "grad raised RuntimeError: out of memory at the point given"),
    (lambda x: np.sum(x**2), lambda x: x[:1], np.ones(2),
     "grad returned shape (1,) for x, expected (2,) (the shape of x) at the point given"),
    (lambda x: np.sum(np.log(x)), lambda x: 1 / x, -np.ones(2), "f is not finite at the point given"),
    (lambda x: x, lambda x: x, np.ones(2), "f returned a real array of shape (2,): a gradient is of a real scalar f"),
    (lambda x: "text", np.ones_like, np.ones(2), "f returned 'text', not numbers"),
    (lambda x: None, np.ones_like, np.ones(2), "f returned None, not numbers"),
    (lambda x: object(), np.ones_like, np.ones(2), "f returned an object, not numbers"),
    (logdet, np.linalg.inv, np.ones((2, 3)), "f raised LinAlgError"),
])
def test_errors_are_results_not_exceptions(f: Any, grad: Any, point: np.ndarray, message: str) -> None:
    result = gradcheck.check(f, grad, point)
    assert result.status is Status.ERROR and message in result.message
    assert "\n" not in result.message and "claim 1" not in result.message


def test_a_slow_function_is_stopped() -> None:
    def slow(x: np.ndarray) -> float:
        time.sleep(0.2)
        return float(np.sum(x))

    start = time.monotonic()
    result = gradcheck.check(slow, np.ones_like, np.ones(3), timeout=0.5)
    assert result.status is Status.ERROR and result.message == "stopped after 0.5 s (timeout)"
    assert time.monotonic() - start < 5


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"layout": "row"}, ValueError, "`layout` must be one of 'denominator', 'numerator', got 'row'"),
    ({"vec": "F"}, ValueError, "`vec` must be one of 'column', 'row', got 'F'"),
    ({"method": "weird"}, ValueError, "`method` must be one of 'central', 'richardson', 'complex', 'auto', got 'weird'"),
    ({"vjp": np.sum}, TypeError, "give the derivative as exactly one of grad (the second argument), jacobian=, "
                                 "vjp= or jvp=; got grad, vjp"),
    ({"wrt": "q"}, ValueError, "`wrt`: no argument named 'q'; the arguments are x"),
    ({"wrt": 3}, ValueError, "`wrt`: no argument 3; there are 1"),
    ({"trials": 0}, ValueError, "`trials` must be at least 1, got 0"),
    ({"kinds": {"x": "spd"}}, ValueError, "`kinds`: kind 'spd' needs a square shape [n, n], got [3] (x)"),
    ({"kinds": {"y": "spd"}}, ValueError, "`kinds`: 'y' is not a differentiated argument"),
    ({"kinds": {"x": "round"}}, ValueError, "`kinds`: unknown kind 'round' for 'x'"),
    ({"names": ["a", "b"]}, ValueError, "`names` must give each of the 1 inputs its own Python name"),
])
def test_bad_arguments_raise_at_once(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match="^" + re.escape(message)):
        gradcheck.check(lambda x: np.sum(x), np.ones_like, np.ones(3), **kwargs)


@pytest.mark.parametrize(("x", "message"), [
    (np.array(["a", "b"]), "x has entries of <U1: it cannot be differentiated (leave it out of `wrt`)"),
    (np.array([1.0, np.nan]), "x has entries that are not finite"),
])
def test_a_point_is_never_cast_silently(x: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        gradcheck.check(lambda x: np.sum(x), np.ones_like, x, wrt=0)


def test_no_differentiable_input() -> None:
    with pytest.raises(ValueError, match="no argument to differentiate"):
        gradcheck.check(lambda y: 1.0, np.ones_like, np.array([1, 2]))


# -- the explanation, and asserting ------------------------------------------------------

def test_explanation_and_assert_check() -> None:
    x = np.arange(1.0, 4.0)
    with pytest.raises(AssertionError) as caught:
        gradcheck.assert_check(lambda x: np.sum(x**2), lambda x: x, x)
    text = str(caught.value)
    assert text.splitlines()[0] == "gradcheck: FAIL"
    assert "  grad wrt x: FAIL, relative error 5.0e-01 (noise floor" in text
    assert "    diagnosis: off by a factor: numerical = 2 x claim" in text
    assert "    largest difference at entry (3): claimed 3, numerical 6" in text
    assert text.splitlines()[-1] == "reproduce: gradcheck.check(f, grad, x, seed=0)"
    assert gradcheck.assert_check(lambda x: np.sum(x**2), lambda x: 2 * x, x).ok
    assert str(gradcheck.check(lambda x: np.sum(x**2), lambda x: 2 * x, x)).startswith("gradcheck: PASS")


def test_a_users_script_type_checks_under_strict_mypy(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    script = tmp_path / "user.py"
    script.write_text(
        "import numpy as np\nimport gradcheck\n\n"
        "def f(x: np.ndarray) -> float:\n    return float(np.sum(x ** 2))\n\n"
        "result: gradcheck.Result = gradcheck.check(f, lambda x: 2 * x, np.ones(3))\n"
        "error: float | None = result.error\n"
        "ok: bool = gradcheck.assert_check(f, lambda x: 2 * x, np.ones(3)).ok\n"
        "wrong: int = result.hint\n")
    # an editable install is found through an import hook, which mypy does not follow:
    # point it at the package (a wheel install is found as it is, py.typed included)
    env = {**os.environ, "MYPYPATH": str(Path(gradcheck.__file__).parents[1])}
    run = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(script)],
                         capture_output=True, text=True, cwd=tmp_path, env=env)
    mine = [line for line in run.stdout.splitlines() if line.startswith("user.py")]
    assert len(mine) == 1, run.stdout  # the planted mistake alone: the API's types are real
    assert mine[0].startswith('user.py:10: error: Incompatible types in assignment (expression has type "str", '
                              'variable has type "int")')
