"""gradcheck.torch with real PyTorch: custom autograd Functions, right and with each classic slip."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from conftest import framework  # noqa: E402

torch = framework("torch")
import gradcheck.torch as gt  # noqa: E402
from gradcheck.verdict import Status  # noqa: E402

DOUBLE = torch.float64


def tensor(*shape: int, seed: int = 0, grad: bool = True) -> Any:
    t = torch.from_numpy(np.random.default_rng(seed).standard_normal(shape))
    return t.requires_grad_(grad)


def linear(backward: Any) -> Any:
    """y = x W^T + b as a custom Function with the given backward (G, x, W) -> (gx, gW, gb)."""

    class Linear(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, W: Any, b: Any) -> Any:
            ctx.save_for_backward(x, W)
            return x @ W.T + b

        @staticmethod
        def backward(ctx: Any, G: Any) -> Any:
            x, W = ctx.saved_tensors
            return backward(G, x, W)

    return Linear.apply


X, W, B = tensor(5, 4, seed=1), tensor(4, 4, seed=2), tensor(4, seed=3)


def test_a_right_backward_passes_for_every_input() -> None:
    result = gt.check(linear(lambda G, x, W: (G @ W, G.T @ x, G.sum(0))), (X, W, B))
    assert result.ok, result.explain()
    assert [p.description for p in result.parts] == ["vjp wrt x", "vjp wrt W", "vjp wrt b"]


def test_a_missing_transpose_is_diagnosed() -> None:
    result = gt.check(linear(lambda G, x, W: (G @ W, x.T @ G, G.sum(0))), (X, W, B))
    assert [p.status for p in result.parts] == [Status.PASS, Status.FAIL, Status.PASS]
    assert result.hint == "matches the claim transposed"


def test_a_wrong_reduction_over_the_broadcast_axis() -> None:
    mean = gt.check(linear(lambda G, x, W: (G @ W, G.T @ x, G.mean(0))), (X, W, B))
    assert mean.status is Status.FAIL and mean.hint == "off by a factor: numerical = 5 x claim"
    # (an unreduced G PyTorch sums to b's shape itself; the wrong axis it cannot)
    wrong_axis = gt.check(linear(lambda G, x, W: (G @ W, G.T @ x, G.sum(1))), (X, W, B))
    assert wrong_axis.status is Status.ERROR
    assert "vjp raised RuntimeError: Function LinearBackward returned an invalid gradient at index 2" \
        in wrong_axis.message


def test_a_missing_factor_is_diagnosed() -> None:
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx: Any, G: Any) -> Any:
            (x,) = ctx.saved_tensors
            return G * x

    result = gt.check(Square.apply, (tensor(6),))
    assert result.status is Status.FAIL and result.hint == "off by a factor: numerical = 2 x claim"


def test_a_dropped_term_is_caught() -> None:
    class Product(torch.autograd.Function):  # d(A A) = dA A + A dA: the backward drops A^T G
        @staticmethod
        def forward(ctx: Any, A: Any) -> Any:
            ctx.save_for_backward(A)
            return A @ A

        @staticmethod
        def backward(ctx: Any, G: Any) -> Any:
            (A,) = ctx.saved_tensors
            return G @ A.T

    result = gt.check(Product.apply, (tensor(3, 3),))
    assert result.status is Status.FAIL and result.error is not None and result.error > 0.1


def test_a_row_major_reshape_is_diagnosed() -> None:
    class Vec(torch.autograd.Function):  # vec(X), column by column
        @staticmethod
        def forward(ctx: Any, X: Any) -> Any:
            ctx.shape = X.shape
            return X.T.reshape(-1)

        @staticmethod
        def backward(ctx: Any, G: Any) -> Any:
            return G.reshape(ctx.shape)  # should be G.reshape(ctx.shape[::-1]).T

    result = gt.check(Vec.apply, (tensor(3, 4),))
    assert result.status is Status.FAIL
    assert result.hint.startswith("matches the claim with its entries reordered: a vector reshaped row by row")


def test_forward_mode_jvp_of_a_custom_function() -> None:
    def exp_function(jvp: Any) -> Any:
        class Exp(torch.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                y = x.exp()
                ctx.save_for_backward(y)
                ctx.save_for_forward(y)
                return y

            @staticmethod
            def backward(ctx: Any, G: Any) -> Any:
                (y,) = ctx.saved_tensors
                return G * y

            @staticmethod
            def jvp(ctx: Any, v: Any) -> Any:
                (y,) = ctx.saved_tensors
                return jvp(v, y)

        return Exp.apply

    right = gt.check(exp_function(lambda v, y: v * y), (tensor(4),), check_forward_ad=True)
    assert right.ok and [p.description for p in right.parts] == ["vjp wrt x", "jvp wrt x"]
    wrong = gt.check(exp_function(lambda v, y: -v * y), (tensor(4),), check_forward_ad=True)
    assert [p.status for p in wrong.parts] == [Status.PASS, Status.FAIL]
    assert wrong.hint == "matches the claim negated"


def test_double_backward() -> None:
    A = tensor(3, 3) + 3 * torch.eye(3, dtype=DOUBLE)
    assert gt.check_second(torch.linalg.inv, (A.detach().requires_grad_(),)).ok

    class Cube(torch.autograd.Function):  # its backward is not differentiable twice
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx: Any, G: Any) -> Any:
            (x,) = ctx.saved_tensors
            return G * 3 * x.detach() ** 2

    assert gt.check(Cube.apply, (tensor(4),)).ok
    second = gt.check_second(Cube.apply, (tensor(4),))
    assert second.status is Status.FAIL
    assert [p.status for p in second.parts] == [Status.FAIL, Status.PASS]


def test_complex_tensors_follow_pytorchs_convention() -> None:
    z = torch.tensor([1 + 2j, -0.5 + 0.1j, 0.3 - 0.7j], dtype=torch.complex128, requires_grad=True)
    assert gt.check(lambda z: (z * z.conj()).real.sum() + torch.sin(z).abs().sum(), (z,)).ok
    assert gt.check(torch.exp, (z,), check_forward_ad=True).ok


def test_a_float32_input_is_measured_in_float64() -> None:
    x = torch.randn(4, dtype=torch.float32, requires_grad=True)
    result = gt.check(torch.tanh, (x,))
    assert result.ok and not result.notes and result.error is not None and result.error < 1e-8


def test_a_function_that_computes_in_float32() -> None:
    result = gt.check(lambda x: x.float().exp().sum(), (tensor(5),))
    assert result.ok and "single precision (float32)" in result.notes[0]


def test_drop_in_for_torch_autograd_gradcheck() -> None:
    inputs = (tensor(3, 3), tensor(3, 3, seed=4, grad=False))
    # like torch's: only inputs with requires_grad are differentiated
    result = gt.check(torch.matmul, inputs)
    assert result.ok and [p.description for p in result.parts] == ["vjp wrt x0"]
    with pytest.raises(AssertionError, match=r"(?s)^gradcheck: FAIL.*diagnosis: matches the claim transposed"):
        gt.check(linear(lambda G, x, W: (G @ W, x.T @ G, G.sum(0))), (X, W, B), raise_exception=True)


def test_errors_are_results() -> None:
    def boom(x: Any) -> Any:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)")

    result = gt.check(boom, (tensor(3),))
    assert result.status is Status.ERROR
    assert result.message == "f raised RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"
    nan = gt.check(lambda x: torch.log(x - 10).sum(), (tensor(3),))
    assert nan.status is Status.ERROR and "not finite" in nan.message
