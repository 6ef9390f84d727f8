"""gradcheck.jax with real JAX: custom_vjp and custom_jvp rules, right and with each classic slip."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from conftest import framework  # noqa: E402

jax = framework("jax")
import jax.numpy as jnp  # noqa: E402

import gradcheck.jax as gj  # noqa: E402
from gradcheck.verdict import Status  # noqa: E402

RNG = np.random.default_rng(0)
M = RNG.standard_normal((4, 4)) + 4 * np.eye(4)


def with_vjp(f: Any, backward: Any) -> Any:
    """f with a custom_vjp rule: backward(residual x, cotangent) -> cotangents."""
    wrapped = jax.custom_vjp(f)
    wrapped.defvjp(lambda *x: (f(*x), x), lambda x, g: backward(*x, g))
    return wrapped


def test_a_right_custom_vjp_passes_and_each_slip_is_named() -> None:
    inv = lambda A: jnp.linalg.inv(A)  # noqa: E731
    right = with_vjp(inv, lambda A, G: (-inv(A).T @ G @ inv(A).T,))
    assert gj.check(right, M).ok
    transposed = with_vjp(inv, lambda A, G: (-inv(A) @ G.T @ inv(A),))
    assert gj.check(transposed, M).hint == "matches the claim transposed"
    negated = with_vjp(inv, lambda A, G: (inv(A).T @ G @ inv(A).T,))
    assert gj.check(negated, M).hint == "matches the claim negated"
    halved = with_vjp(lambda x: x**2, lambda x, g: (g * x,))
    assert gj.check(halved, np.arange(1.0, 4.0)).hint == "off by a factor: numerical = 2 x claim"


def test_a_dropped_term_and_a_wrong_reduction() -> None:
    product = with_vjp(lambda A: A @ A, lambda A, G: (G @ A.T,))  # drops A^T G
    assert gj.check(product, M).status is Status.FAIL
    add = lambda x, b: x + b  # noqa: E731  (b broadcast over the rows of x)
    mean = with_vjp(add, lambda x, b, G: (G, G.mean(0)))
    result = gj.check(mean, RNG.standard_normal((5, 3)), RNG.standard_normal(3))
    assert [p.status for p in result.parts] == [Status.PASS, Status.FAIL]
    assert result.hint == "off by a factor: numerical = 5 x claim"


def test_a_custom_jvp_rule_in_forward_mode() -> None:
    def softplus(jvp: Any) -> Any:
        f = jax.custom_jvp(lambda x: jnp.logaddexp(x, 0.0))
        f.defjvp(lambda primals, tangents: (f(primals[0]), jvp(primals[0], tangents[0])))
        return f

    x = np.linspace(-2.0, 2.0, 5)
    assert gj.check(softplus(lambda x, v: jax.nn.sigmoid(x) * v), x, modes=("fwd", "rev")).ok
    wrong = gj.check(softplus(lambda x, v: jax.nn.sigmoid(-x) * v), x, modes=("fwd",))
    assert wrong.status is Status.FAIL and [p.description for p in wrong.parts] == ["jvp wrt x"]


def test_pytrees_and_argnums() -> None:
    params = {"W": RNG.standard_normal((3, 2)), "b": np.zeros(3)}

    def layer(p: dict[str, Any], x: Any) -> Any:
        return jnp.tanh(p["W"] @ x + p["b"]).sum()

    result = gj.check(layer, params, np.array([0.5, -1.0]), argnums=0, modes=("rev", "fwd"))
    assert result.ok
    assert [p.description for p in result.parts] == ["vjp wrt p['W']", "vjp wrt p['b']",
                                                    "jvp wrt p['W']", "jvp wrt p['b']"]


def test_64_bit_is_handled_for_the_user() -> None:
    # log det at n = 50, where a float32 check has no digits to spare
    A = RNG.standard_normal((50, 50)) + 10 * np.eye(50)
    result = gj.check(lambda A: jnp.linalg.slogdet(A)[1], jnp.asarray(A, dtype=jnp.float32))
    assert result.ok and not result.notes and result.error is not None and result.error < 1e-7
    assert not jax.config.jax_enable_x64  # switched on for the check only


def test_complex_inputs_in_jaxs_convention() -> None:
    z = np.array([1 + 2j, 0.5 - 1j])
    assert gj.check(lambda z: jnp.sum(jnp.abs(z) ** 2 + jnp.exp(z).real), z).ok
    assert gj.check(lambda z: jnp.exp(z) * z, z, modes=("rev", "fwd")).ok


def test_second_order() -> None:
    assert gj.check(lambda A: jnp.linalg.inv(A), M, order=2).ok
    cube = with_vjp(lambda x: x**3, lambda x, g: (g * 3 * jax.lax.stop_gradient(x) ** 2,))
    assert gj.check(cube, np.arange(1.0, 4.0)).ok
    assert gj.check(cube, np.arange(1.0, 4.0), order=2).status is Status.FAIL


def test_errors_and_raising() -> None:
    result = gj.check(lambda x: jnp.dot(x, jnp.ones(5)), np.ones(3))
    assert result.status is Status.ERROR and result.message.startswith("f raised TypeError: dot_general requires")
    with pytest.raises(AssertionError, match=r"(?s)^gradcheck: FAIL.*numerical = 2 x claim"):
        gj.check(with_vjp(lambda x: x**2, lambda x, g: (g * x,)), np.arange(1.0, 4.0), raise_exception=True)
    with pytest.raises(ValueError, match="`modes` must be a non-empty sequence of 'rev' and 'fwd'"):
        gj.check(jnp.sin, np.ones(2), modes=("back",))
