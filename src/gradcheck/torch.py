"""PyTorch's backward passes checked by gradcheck's judge: a drop-in for
`torch.autograd.gradcheck` and `gradgradcheck`.

>>> import torch, gradcheck.torch
>>> x = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
>>> gradcheck.torch.check(torch.linalg.inv, (x,)).status.value
'PASS'

The backward pass that PyTorch would run (a custom `torch.autograd.Function`'s
`backward` included) is compared, through vector-Jacobian products with random
cotangents, against finite differences of the forward in float64; with
`check_forward_ad=True`, the forward-mode JVP too. Tensors are moved to the CPU; complex
tensors follow PyTorch's own convention, which is gradcheck's (see gradcheck.check).

Needs PyTorch (``pip install 'gradcheck[torch]'``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from gradcheck.api import Result, argument_names, combined
from gradcheck.api import check as check_arrays
from gradcheck.pytree import leaves, map_leaves


def check(func: Callable[..., Any], inputs: Any, *, raise_exception: bool = False,
          check_forward_ad: bool = False, check_backward_ad: bool = True, wrt: Sequence[int] | None = None,
          method: str = "central", seed: int = 0, trials: int = 1, timeout: float | None = None,
          name: str = "torch") -> Result:
    """Check `func`'s backward pass (and, with `check_forward_ad`, its forward-mode JVP) at
    `inputs`, a tensor or a tuple of tensors (any tree of lists, tuples and dicts of them).

    The differentiated inputs are those with ``requires_grad`` (every floating-point or
    complex tensor when none has it), or the positions in `wrt`. `func` may return a
    tensor or a tuple of tensors. With `raise_exception` a result that is not a PASS
    raises an AssertionError with the full explanation, as `torch.autograd.gradcheck`
    raises; otherwise the result is returned.
    """
    arguments = list(inputs) if isinstance(inputs, tuple) else [inputs]
    chosen = _differentiated(arguments) if wrt is None else list(wrt)
    point = [_to_numpy(a) for a in arguments]
    f = _forward(func)
    options: dict[str, Any] = dict(wrt=chosen[0] if len(chosen) == 1 else chosen, method=method, seed=seed,
                                   trials=trials, timeout=timeout, name=name, names=_names(func, len(point)))
    results = []
    if check_backward_ad:
        results.append(check_arrays(f, *point, vjp=_backward(func, chosen), **options))
    if check_forward_ad:
        results.append(check_arrays(f, *point, jvp=_forward_ad(func, chosen), **options))
    if not results:
        raise ValueError("nothing to check: both check_backward_ad and check_forward_ad are False")
    modes = ", check_forward_ad=True" if check_forward_ad else ""
    modes += "" if check_backward_ad else ", check_backward_ad=False"
    result = replace(combined(results), call=f"gradcheck.torch.check(func, inputs{modes}, seed={seed})")
    return result.raise_for_status() if raise_exception else result


def _names(func: Callable[..., Any], count: int) -> list[str]:
    """The inputs' names: a custom Function's forward parameters after ctx, else func's own."""
    forward = getattr(getattr(func, "__self__", None), "forward", None)
    if forward is not None:
        names = argument_names(forward, count + 1)
        if names[0] not in ("x0", "x"):
            return names[1:]
    return argument_names(func, count)


def check_second(func: Callable[..., Any], inputs: Any, *, raise_exception: bool = False,
                 wrt: Sequence[int] | None = None, method: str = "central", seed: int = 0,
                 timeout: float | None = None, name: str = "torch second") -> Result:
    """Check `func`'s double backward, as `torch.autograd.gradgradcheck`: the backward pass
    with a random cotangent, as a function of the inputs and that cotangent, has its own
    backward pass checked against finite differences of the first."""
    arguments = list(inputs) if isinstance(inputs, tuple) else [inputs]
    chosen = _differentiated(arguments) if wrt is None else list(wrt)
    outputs = _forward(func)(*(_to_numpy(a) for a in arguments))
    rng = np.random.default_rng(seed)
    cotangent = map_leaves(lambda o: _random_like(np.asarray(o), rng), outputs)

    def first_backward(*args_and_cotangent: Any) -> Any:
        *args, g = args_and_cotangent
        tensors = [_to_torch(a, i in chosen) for i, a in enumerate(args)]
        with torch.enable_grad():
            out = func(*tensors)
            grads = torch.autograd.grad(_tensors(out), [t for i in chosen for t in _tensors(tensors[i])],
                                        grad_outputs=_tensors(map_leaves(_tensor, g)), create_graph=True,
                                        allow_unused=True, materialize_grads=True)
        return tuple(grads)

    point = [*(_to_numpy(a) for a in arguments), cotangent]
    result = check(first_backward, tuple(map_leaves(_tensor, p) for p in point),
                   wrt=[*chosen, len(arguments)], method=method, seed=seed, timeout=timeout, name=name)
    result = replace(result, call=f"gradcheck.torch.check_second(func, inputs, seed={seed})")
    return result.raise_for_status() if raise_exception else result


def _random_like(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if np.iscomplexobj(a):
        return np.asarray(rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape))
    return np.asarray(rng.standard_normal(a.shape))


def _differentiated(arguments: list[Any]) -> list[int]:
    """The positions of the inputs with requires_grad (all floating or complex ones if none)."""
    asked = [i for i, a in enumerate(arguments)
             if any(isinstance(t, torch.Tensor) and t.requires_grad for t in leaves(a))]
    if asked:
        return asked
    return [i for i, a in enumerate(arguments)
            if leaves(a) and all(isinstance(t, torch.Tensor) and (t.is_floating_point() or t.is_complex())
                                 for t in leaves(a))]


def _to_numpy(tree: Any) -> Any:
    """Tensors as NumPy arrays on the CPU (float64 or complex128 where floating)."""
    def convert(t: Any) -> Any:
        if not isinstance(t, torch.Tensor):
            return t
        t = t.detach().cpu().resolve_conj().resolve_neg()
        if t.is_floating_point():
            t = t.to(torch.float64)
        elif t.is_complex():
            t = t.to(torch.complex128)
        return t.numpy()

    return map_leaves(convert, tree)


def _tensor(a: Any) -> Any:
    return torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a


def _to_torch(tree: Any, grad: bool) -> Any:
    def convert(a: Any) -> Any:
        t = _tensor(a)
        if grad and isinstance(t, torch.Tensor) and (t.is_floating_point() or t.is_complex()):
            t.requires_grad_(True)
        return t

    return map_leaves(convert, tree)


def _tensors(out: Any) -> list[torch.Tensor]:
    return [t for t in leaves(out) if isinstance(t, torch.Tensor)]


def _from_torch(out: Any) -> Any:
    return map_leaves(lambda t: t.detach().cpu().resolve_conj().resolve_neg().numpy()
                      if isinstance(t, torch.Tensor) else t, out)


def _forward(func: Callable[..., Any]) -> Callable[..., Any]:
    def f(*arrays: Any) -> Any:
        with torch.no_grad():
            return _from_torch(func(*(_to_torch(a, False) for a in arrays)))

    return f


def _backward(func: Callable[..., Any], chosen: list[int]) -> Callable[..., Any]:
    """The vjp PyTorch computes: autograd.grad of func's outputs with the cotangent."""
    def vjp(*args_and_cotangent: Any) -> Any:
        *args, cotangent = args_and_cotangent
        tensors = [_to_torch(a, i in chosen) for i, a in enumerate(args)]
        leaves = [t for i in chosen for t in _tensors(tensors[i])]
        with torch.enable_grad():
            out = func(*tensors)
            grads = torch.autograd.grad(_tensors(out), leaves, grad_outputs=_tensors(map_leaves(_tensor, cotangent)),
                                        allow_unused=True, materialize_grads=True)
        return _regrouped([_from_torch(g) for g in grads], args, chosen)

    return vjp


def _forward_ad(func: Callable[..., Any], chosen: list[int]) -> Callable[..., Any]:
    """The jvp PyTorch's forward-mode AD computes (a custom Function's `jvp`)."""
    import torch.autograd.forward_ad as fwad

    def jvp(*args_and_tangents: Any) -> Any:
        *args, tangents = args_and_tangents
        tangent_list = [tangents] if len(chosen) == 1 else list(tangents)
        with fwad.dual_level():
            tensors = [_to_torch(a, False) for a in args]
            for i, t in zip(chosen, tangent_list):
                tensors[i] = _dual(tensors[i], t)
            out = func(*tensors)
            return map_leaves(lambda o: _tangent_of(o, fwad), out)

    return jvp


def _dual(primal: Any, tangent: Any) -> Any:
    from torch.autograd import forward_ad

    make_dual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = forward_ad.make_dual  # (untyped upstream)
    it = iter(leaves(tangent))
    return map_leaves(lambda p: make_dual(p, _tensor(next(it))) if isinstance(p, torch.Tensor) else p, primal)


def _tangent_of(o: Any, fwad: Any) -> Any:
    if not isinstance(o, torch.Tensor):
        return o
    tangent = fwad.unpack_dual(o).tangent
    primal = fwad.unpack_dual(o).primal
    if tangent is None:  # the output does not depend on the differentiated inputs
        return np.zeros(tuple(primal.shape), dtype=_from_torch(primal).dtype)
    return _from_torch(tangent)


def _regrouped(grads: list[Any], args: list[Any], chosen: list[int]) -> Any:
    """Flat gradients back in the structure of the chosen arguments (a tuple if several)."""
    it = iter(grads)
    grouped = [map_leaves(lambda _: next(it), args[i]) for i in chosen]
    return grouped[0] if len(chosen) == 1 else tuple(grouped)
