"""JAX's derivatives checked by gradcheck's judge: a drop-in for
`jax.test_util.check_grads`.

>>> import jax.numpy as jnp, numpy as np, gradcheck.jax
>>> gradcheck.jax.check(lambda X: jnp.linalg.slogdet(X)[1], np.eye(3) * 2).status.value
'PASS'

Reverse mode (`jax.vjp`, a `jax.custom_vjp` rule included) and forward mode (`jax.jvp`,
a `jax.custom_jvp` rule included) are compared against finite differences of the
function in float64: 64-bit mode is switched on for the check (`jax.enable_x64`), so a
function written for float32 is measured in float64 unless it casts on its own.
Arguments may be pytrees of arrays (lists, tuples, dicts). Complex cotangents are
converted from JAX's convention (no conjugation) to gradcheck's (PyTorch's).

Needs JAX (``pip install 'gradcheck[jax]'``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradcheck.api import Result, argument_names, combined
from gradcheck.api import check as check_arrays
from gradcheck.pytree import leaves, map_leaves


def check(fun: Callable[..., Any], *args: Any, modes: Sequence[str] = ("rev",), order: int = 1,
          argnums: int | Sequence[int] | None = None, method: str = "central", seed: int = 0, trials: int = 1,
          timeout: float | None = None, raise_exception: bool = False, name: str = "jax") -> Result:
    """Check `fun`'s derivatives at `args`: ``"rev"`` (vjp) and/or ``"fwd"`` (jvp) in
    `modes`; with ``order=2`` the derivatives of the first-order vjp (reverse over
    reverse), as `check_grads(..., order=2)`. `argnums`: the arguments to differentiate
    (default: every floating-point or complex one). With `raise_exception` a result that
    is not a PASS raises an AssertionError with the full explanation."""
    unknown = set(modes) - {"rev", "fwd"}
    if unknown or not modes:
        raise ValueError(f"`modes` must be a non-empty sequence of 'rev' and 'fwd', got {list(modes)}")
    if order not in (1, 2):
        raise ValueError(f"`order` must be 1 or 2, got {order}")
    with jax.enable_x64(True):
        point = [_to_numpy(a) for a in args]
        names = argument_names(fun, len(point))
        if order == 2:
            return _second(fun, point, names, argnums, method, seed, timeout, raise_exception, name)
        wrt = argnums if argnums is None or isinstance(argnums, int) else list(argnums)
        options: dict[str, Any] = dict(wrt=wrt, method=method, seed=seed, trials=trials, timeout=timeout,
                                       name=name, names=names)
        f = _forward(fun)
        results = []
        if "rev" in modes:
            results.append(check_arrays(f, *point, vjp=_reverse(fun, len(point), wrt), **options))
        if "fwd" in modes:
            results.append(check_arrays(f, *point, jvp=_forward_mode(fun, len(point), wrt), **options))
        result = replace(combined(results), call=_call(modes, order, argnums, seed, trials))
    return result.raise_for_status() if raise_exception else result


def _second(fun: Callable[..., Any], point: list[Any], names: list[str], argnums: int | Sequence[int] | None,
            method: str, seed: int, timeout: float | None, raise_exception: bool, name: str) -> Result:
    """The first-order vjp with a fixed random cotangent, as a function of the arguments
    and that cotangent, checked in reverse mode."""
    outputs = _forward(fun)(*point)
    rng = np.random.default_rng(seed)
    cotangent = map_leaves(lambda o: _random_like(np.asarray(o), rng), outputs)
    wrt = argnums if argnums is None or isinstance(argnums, int) else list(argnums)
    backward = _reverse(fun, len(point), wrt)
    chosen = list(range(len(point))) if wrt is None else ([wrt] if isinstance(wrt, int) else list(wrt))
    result = check_arrays(_forward(backward), *point, cotangent, vjp=_reverse(backward, len(point) + 1,
                                                                             [*chosen, len(point)]),
                          wrt=[*chosen, len(point)], method=method, seed=seed, timeout=timeout, name=name,
                          names=[*names, "cotangent"])
    result = replace(result, call=_call(("rev",), 2, argnums, seed, 1))
    return result.raise_for_status() if raise_exception else result


def _call(modes: Sequence[str], order: int, argnums: Any, seed: int, trials: int) -> str:
    extra = [f"modes={tuple(modes)!r}"]
    extra += [f"order={order}"] if order != 1 else []
    extra += [f"argnums={argnums!r}"] if argnums is not None else []
    extra += [f"trials={trials}"] if trials != 1 else []
    return f"gradcheck.jax.check(fun, *args, {', '.join(extra)}, seed={seed})"


def _random_like(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if np.iscomplexobj(a):
        return np.asarray(rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape))
    return np.asarray(rng.standard_normal(a.shape))


def _to_numpy(tree: Any) -> Any:
    """JAX arrays (and anything array-like) as NumPy arrays; floats widened to float64."""
    def convert(a: Any) -> Any:
        if isinstance(a, (jax.Array, np.ndarray, float, complex, int)):
            array = np.asarray(a)
            if array.dtype.kind == "f":
                return array.astype(np.float64)
            if array.dtype.kind == "c":
                return array.astype(np.complex128)
            return array
        return a

    return map_leaves(convert, tree)


def _from_jax(tree: Any) -> Any:
    return map_leaves(lambda a: np.asarray(a) if isinstance(a, jax.Array) else a, tree)


def _forward(fun: Callable[..., Any]) -> Callable[..., Any]:
    def f(*arrays: Any) -> Any:
        with jax.enable_x64(True):
            return _from_jax(fun(*arrays))

    return f


def _chosen(count: int, wrt: int | list[int] | None, args: Sequence[Any]) -> list[int]:
    if wrt is None:
        def numeric(a: Any) -> bool:
            kinds = [jnp.asarray(leaf).dtype.kind for leaf in leaves(a)]
            return bool(kinds) and all(k in "fc" for k in kinds)
        return [i for i in range(count) if numeric(args[i])]
    return [wrt] if isinstance(wrt, int) else list(wrt)


def _moving(fun: Callable[..., Any], args: Sequence[Any], chosen: Sequence[int]) -> Callable[..., Any]:
    """`fun` as a function of the chosen arguments only, the others held at `args`."""
    def partial(*moving: Any) -> Any:
        full = list(args)
        for i, m in zip(chosen, moving):
            full[i] = m
        return fun(*full)

    return partial


def _reverse(fun: Callable[..., Any], count: int, wrt: int | list[int] | None) -> Callable[..., Any]:
    """JAX's vjp of `fun` in the chosen arguments, in gradcheck's complex convention:
    c_gradcheck = conj(vjp_jax(conj(G)))."""
    def vjp(*args_and_cotangent: Any) -> Any:
        *args, cotangent = args_and_cotangent
        chosen = _chosen(count, wrt, args)
        with jax.enable_x64(True):
            out, pullback = jax.vjp(_moving(fun, args, chosen), *(args[i] for i in chosen))
            # the cotangent in the output's own dtype (float32 for a function that casts)
            conjugated = jax.tree_util.tree_map(lambda c, o: jnp.conj(jnp.asarray(c, dtype=o.dtype)), cotangent, out)
            grads = tuple(jax.tree_util.tree_map(jnp.conj, g) for g in pullback(conjugated))
        return grads[0] if isinstance(wrt, int) or (wrt is None and len(chosen) == 1) else grads

    return vjp


def _forward_mode(fun: Callable[..., Any], count: int, wrt: int | list[int] | None) -> Callable[..., Any]:
    """JAX's jvp of `fun` along tangents of the chosen arguments."""
    def jvp(*args_and_tangents: Any) -> Any:
        *args, tangents = args_and_tangents
        chosen = _chosen(count, wrt, args)
        single = isinstance(wrt, int) or (wrt is None and len(chosen) == 1)
        given = [tangents] if single else list(tangents)
        with jax.enable_x64(True):
            _, out = jax.jvp(_moving(fun, args, chosen), tuple(args[i] for i in chosen), tuple(given))
        return _from_jax(out)

    return jvp
