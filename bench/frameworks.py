"""Side by side on the same backward passes: torch.autograd.gradcheck (default and fast
mode), jax.test_util.check_grads, and gradcheck.torch / gradcheck.jax.

Each case is a function with a hand-written backward pass (a custom torch.autograd.Function
and a jax.custom_vjp, the same formula in both), either right or with one planted slip: a
missing transpose, a missing factor, a dropped term, a row-major reshape, a reduction over
the wrong broadcast axis (a mean for a sum), or one entry off by a small relative amount.
The table says, for each checker, whether it reported a failure ("caught" for a slip,
"FALSE ALARM" for a right backward pass, "missed" for an unreported slip) and the seconds
it took. Everything runs in float64 (JAX with 64-bit mode on, as check_grads needs for
float64 inputs); times are medians of --repeats runs after a warm-up, in one process.

    python bench/frameworks.py            # needs PyTorch and JAX installed (make frameworks)
    python bench/frameworks.py --only logdet
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import torch
from jax.test_util import check_grads

import gradcheck.jax as gjax
import gradcheck.torch as gtorch

jax.config.update("jax_enable_x64", True)
warnings.filterwarnings("ignore")


@dataclass(frozen=True)
class Case:
    name: str
    slip: bool  # a wrong backward pass (else a right one)
    forward: Callable[[Any, Any], Any]  # (array module, x) -> f(x)
    backward: Callable[[Any, Any, Any], Any]  # (array module, x, G) -> the claimed cotangent of x
    point: np.ndarray


def _inv(xp: Any, x: Any) -> Any:
    return xp.linalg.inv(x)


def _logdet(xp: Any, x: Any) -> Any:
    return xp.linalg.slogdet(x)[1]


def _entry_off(rel: float) -> Callable[[Any, Any, Any], Any]:
    """log det's backward G X^-T with its (0, 0) entry off by `rel` of the largest entry."""
    def backward(xp: Any, x: Any, g: Any) -> Any:
        c = g * _inv(xp, x).T
        bump = xp.zeros_like(c)
        bump = bump.at[0, 0].set(1.0) if xp is jnp else bump.index_put_((torch.tensor([0]), torch.tensor([0])),
                                                                        torch.tensor([1.0], dtype=c.dtype))
        return c + rel * xp.max(xp.abs(c)) * bump
    return backward


def _invertible(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.asarray(rng.standard_normal((n, n)) / np.sqrt(n) + 2 * np.eye(n))


def _sum(xp: Any, g: Any, axis: int) -> Any:
    return g.sum(axis) if xp is torch else g.sum(axis=axis)


def cases() -> list[Case]:
    A = _invertible(4)
    x5 = np.linspace(0.5, 1.5, 5)
    rect = np.random.default_rng(1).standard_normal((3, 4))
    batch = np.random.default_rng(2).standard_normal((6, 3))
    return [
        Case("inverse", False, _inv, lambda xp, x, g: -_inv(xp, x).T @ g @ _inv(xp, x).T, A),
        Case("inverse: no transposes", True, _inv, lambda xp, x, g: -_inv(xp, x) @ g @ _inv(xp, x), A),
        Case("square: no factor 2", True, lambda xp, x: x * x, lambda xp, x, g: g * x, x5),
        Case("A @ A: a term dropped", True, lambda xp, x: x @ x, lambda xp, x, g: g @ x.T, A),
        Case("vec(X): row-major reshape", True, lambda xp, x: x.T.reshape(-1),
             lambda xp, x, g: g.reshape(x.shape), rect),
        Case("row sum: mean for sum", True, lambda xp, x: _sum(xp, x, 1),
             lambda xp, x, g: xp.ones_like(x) * g[:, None] / x.shape[1], batch),
        Case("logdet 20", False, _logdet, lambda xp, x, g: g * _inv(xp, x).T, _invertible(20)),
        *(Case(f"logdet 20: entry {rel:.0e} off", True, _logdet, _entry_off(rel), _invertible(20))
          for rel in (1e-2, 1e-4, 1e-6)),
        Case("logdet 200", False, _logdet, lambda xp, x, g: g * _inv(xp, x).T, _invertible(200)),
        Case("logdet 500", False, _logdet, lambda xp, x, g: g * _inv(xp, x).T, _invertible(500)),
    ]


def torch_function(case: Case) -> Callable[[Any], Any]:
    class Planted(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return case.forward(torch, x)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (x,) = ctx.saved_tensors
            return case.backward(torch, x, g)

    return Planted.apply


def jax_function(case: Case) -> Callable[[Any], Any]:
    f = jax.custom_vjp(lambda x: case.forward(jnp, x))
    f.defvjp(lambda x: (case.forward(jnp, x), x), lambda x, g: (case.backward(jnp, x, g),))
    return f


def _timed(run: Callable[[], bool], repeats: int) -> tuple[bool, float]:
    """Whether `run` reported a failure, and its median time over `repeats` runs."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            reported = run()
        except Exception:  # noqa: BLE001 (a checker that raises has reported a failure)
            reported = True
        seconds.append(time.perf_counter() - start)
    return reported, statistics.median(seconds)


def checkers(case: Case) -> dict[str, Callable[[], bool]]:
    """Each checker as a function returning True when it reports a failure."""
    def tensor() -> Any:
        return torch.tensor(case.point, dtype=torch.float64, requires_grad=True)

    def torch_default() -> bool:
        return not torch.autograd.gradcheck(torch_function(case), (tensor(),), raise_exception=False)

    def torch_fast() -> bool:
        return not torch.autograd.gradcheck(torch_function(case), (tensor(),), raise_exception=False, fast_mode=True)

    def jax_check_grads() -> bool:
        try:
            check_grads(jax_function(case), (jnp.asarray(case.point),), order=1, modes=("rev",))
        except AssertionError:
            return True
        return False

    return {
        "torch": torch_default,
        "torch fast": torch_fast,
        "jax check_grads": jax_check_grads,
        "gradcheck.torch": lambda: not gtorch.check(torch_function(case), (tensor(),)).ok,
        "gradcheck.jax": lambda: not gjax.check(jax_function(case), case.point).ok,
    }


TORCH_FULL_LIMIT = 2_500  # entries above which torch's default mode (2 evaluations per entry) is not run


def verdict(case: Case, reported: bool) -> str:
    if case.slip:
        return "caught" if reported else "MISSED"
    return "FALSE" if reported else "ok"


SHORT = {"torch": "torch", "torch fast": "fast", "jax check_grads": "check_grads", "gradcheck.torch": "gc.torch",
         "gradcheck.jax": "gc.jax"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="cases whose name contains this")
    parser.add_argument("--repeats", type=int, default=3, help="runs per check (the median time is shown)")
    args = parser.parse_args()
    chosen = [c for c in cases() if args.only in c.name]
    names = list(checkers(chosen[0]))
    for run in checkers(chosen[0]).values():  # warm up: imports, JAX's first compilations
        _timed(run, 1)
    header = f"{'case':26}" + "".join(f"{SHORT[n]:>12}" for n in names)
    verdicts, times = [], []
    right = {n: 0 for n in names}
    for case in chosen:
        marks, seconds = [], []
        for name, run in checkers(case).items():
            if name == "torch" and case.point.size > TORCH_FULL_LIMIT:
                marks.append("-")
                seconds.append("-")
                continue
            reported, took = _timed(run, args.repeats)
            marks.append(verdict(case, reported))
            seconds.append(f"{took:.3f}")
            right[name] += marks[-1] in ("caught", "ok")
        verdicts.append(f"{case.name:26}" + "".join(f"{m:>12}" for m in marks))
        times.append(f"{case.name:26}" + "".join(f"{t:>12}" for t in seconds))
    print("verdicts (caught or MISSED a slip; ok or FALSE alarm on a right pass; - not run):")
    print(header, *verdicts, sep="\n")
    print(f"{'right verdicts':26}" + "".join(f"{right[n]:>12}" for n in names))
    print(f"\nseconds per check (torch's default mode is not run above {TORCH_FULL_LIMIT} entries):")
    print(header, *times, sep="\n")


if __name__ == "__main__":
    main()
