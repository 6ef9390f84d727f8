"""Expressions evaluated at many points in one pass, their values stacked on a leading axis.

A check evaluates f at tens of points near the sample for every claim. One point at a
time, walking the tree (a closure per node, its checks) costs more than the arithmetic for
the small matrices most identities use. With each moved input's values at k points
stacked into a `Batch`, the tree is walked once for all k: NumPy's ufuncs, matrix products
and linalg functions take stacks as they are.

Every node keeps its meaning exactly. A node with no stacked form here (a function outside
ELEMENTWISE and SQUARE, an index vector, a matrix product of vectors) is evaluated point
by point from its stacked arguments, and its values stacked again. Only `d(...)` and a
Python function (the API) refuse a stack (`Unstackable`); the caller then evaluates point by
point, as it does after any error, which names what went wrong as before.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck.expr import (
    COMPLEX_VALUES,
    DIFFERENTIAL,
    SPECTRAL,
    Compiler,
    Env,
    Expr,
    Node,
    binary,
    called_name_arg,
    check_index,
    compare,
    index_position,
    integer_literal,
    negate,
    slice_end,
    take,
)
from gradcheck.functions import FUNCTIONS, check_size, is_labels, transposed

# Functions of one argument that act entry by entry: applied to a stack as they are.
ELEMENTWISE = frozenset({"exp", "log", "sqrt", "sin", "cos", "tanh", "abs", "sign", "sigmoid", "relu", "softplus",
                         "step", "conj", "real", "imag"})
# Functions of a square matrix that take a stack of them (matrix by matrix) as they are.
SQUARE = frozenset({"inv", "det", "logdet", "trace", "tr", "transpose"})
# Reductions over all entries: summed within each point.
REDUCTIONS: dict[str, Callable[..., Any]] = {"sum": np.sum, "mean": np.mean}
# The most entries a stacked value may have (8 MB of floats): a larger one is refused before
# it is made, and the points are taken one at a time, each as large as one point needs.
STACK_LIMIT = 1_048_576


class Unstackable(Exception):
    """An expression that cannot be evaluated on stacked values: go point by point."""


@dataclass(frozen=True)
class Batch:
    """A value at `count` points: `array[i]` is its value at point i."""

    array: np.ndarray

    @property
    def count(self) -> int:
        return int(self.array.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the value at one point."""
        return tuple(self.array.shape[1:])


def stacked(values: list[np.ndarray]) -> Batch:
    return Batch(np.stack(values))


def evaluate(expr: Expr, env: Env) -> Any:
    """`expr` at every point of the `Batch` values in `env` (the others are the same at all
    points): a `Batch`, or a plain value where the result does not depend on them. Call it
    with floating-point warnings off (`expr.quiet`)."""
    if expr.tree is None:
        raise Unstackable("a Python function")
    node: Node | None = expr.__dict__.get(_STACKED)
    if node is None:  # compiled once for each expression (its text alone may be hoisted: see Expr.hoisted)
        node = _Stacker(expr.source).node(expr.tree.body)
        object.__setattr__(expr, _STACKED, node)
    return node(env)


_STACKED = "_stacked"  # where an expression keeps its stacked form


def fits(count: int, shape: tuple[int, ...]) -> bool:
    """Whether `count` values of `shape` fit in one stacked value (STACK_LIMIT)."""
    return count * math.prod(shape) <= STACK_LIMIT


def _room(count: int, shape: tuple[int, ...]) -> None:
    if not fits(count, shape):
        raise Unstackable("too large to stack")


def shape_of(value: Any) -> tuple[int, ...]:
    """The shape of a value at one point."""
    return value.shape if isinstance(value, Batch) else tuple(np.shape(value))


def _padded(value: Any, rank: int) -> Any:
    """A stack's array with its points' values raised to `rank` dimensions (ones in front),
    so that NumPy's broadcasting from the right aligns them with plain values; a plain value
    as it is."""
    if not isinstance(value, Batch):
        return value
    missing = rank - len(value.shape)
    return value.array.reshape((value.count, *(1,) * missing, *value.shape)) if missing > 0 else value.array


def _each(fn: Callable[..., Any], *values: Any) -> Batch:
    """`fn` at each point in turn, its values stacked again."""
    count = _count(*values)
    out = [fn(*(v.array[0] if isinstance(v, Batch) else v for v in values))]
    _room(count, np.shape(out[0]))
    out += [fn(*(v.array[i] if isinstance(v, Batch) else v for v in values)) for i in range(1, count)]
    if any(is_labels(o) for o in out) or len({(np.shape(o), np.asarray(o).dtype) for o in out}) > 1:
        raise Unstackable("values of different kinds at different points")
    return stacked([np.asarray(o) for o in out])


def _binary(symbol: str, name: str, a: Any, b: Any) -> Any:
    if not isinstance(a, Batch) and not isinstance(b, Batch):
        return binary(symbol, name, a, b)
    if is_labels(a) or is_labels(b):
        return _each(lambda x, y: binary(symbol, name, x, y), a, b)
    sa, sb = shape_of(a), shape_of(b)
    if symbol == "@":
        if len(sa) < 2 or len(sb) < 2 or sa[-1] != sb[-2]:  # vectors: np.matmul reads a stack of them as a matrix
            return _each(lambda x, y: binary(symbol, name, x, y), a, b)
        stack = np.broadcast_shapes(sa[:-2], sb[:-2])
        check_size((*stack, sa[-2], sb[-1]), "matmul result")
        _room(_count(a, b), (*stack, sa[-2], sb[-1]))
        rank = max(len(sa), len(sb))
        return Batch(np.asarray(np.matmul(_padded(a, rank), _padded(b, rank))))
    shape = np.broadcast_shapes(sa, sb)  # a mismatch raises: point by point names it
    if shape != sa and shape != sb:
        check_size(shape, f"'{symbol}' result")
    _room(_count(a, b), shape)
    ufunc = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power}[symbol]
    return Batch(np.asarray(ufunc(_padded(a, len(shape)), _padded(b, len(shape)))))


def _count(*values: Any) -> int:
    return next(v.count for v in values if isinstance(v, Batch))


def _compare(op: Callable[[Any, Any], Any], a: Any, b: Any, complex_values: bool) -> Any:
    if not isinstance(a, Batch) and not isinstance(b, Batch):
        return compare(op, a, b, complex_values)
    return _each(lambda x, y: compare(op, x, y, complex_values), a, b)


def _take(value: Any, index: list[Any]) -> Any:
    if not isinstance(value, Batch):
        return take(value, index)
    if all(isinstance(p, (int, slice)) for p in index):  # a vector of positions moves axes: point by point
        check_index(value.shape, index)
        return Batch(value.array[(slice(None), *index)])
    return _each(lambda v: take(v, index), value)


def _transposed(value: Any, conjugate: bool) -> Any:
    if not isinstance(value, Batch):
        t = transposed(value)
        return np.conj(t) if conjugate else t
    a = np.swapaxes(value.array, -1, -2) if len(value.shape) >= 2 else value.array  # a vector's .T is itself
    return Batch(np.conj(a) if conjugate else a)


def _negated(value: Any) -> Any:
    if isinstance(value, Batch) and value.array.dtype != bool:
        return Batch(-value.array)
    return _each(negate, value) if isinstance(value, Batch) else negate(value)


def _call(name: str, fn: Callable[..., Any], values: list[Any], kwargs: dict[str, Any]) -> Any:
    if not any(isinstance(v, Batch) for v in values):
        return fn(*values, **kwargs)
    if len(values) == 1 and not kwargs:
        (x,) = values
        shape = x.shape
        if name in ELEMENTWISE or (name in SQUARE and len(shape) == 2 and shape[0] == shape[1]):
            return Batch(np.asarray(fn(x.array)))
        if name in REDUCTIONS and x.array.ndim > 1:
            return Batch(np.asarray(REDUCTIONS[name](x.array.reshape(x.count, -1), axis=1)))
    return _each(lambda *vs: fn(*vs, **kwargs), *values)


class _Stacker(Compiler):
    """The expressions' compiler, with each operation's stacked meaning (see the module's
    note); a call goes through `_call`, and d(...) is refused."""

    fuse_traces = False  # its sum of A * B^T takes plain matrices: stacked, the product is made

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.take, self.transpose, self.negate = _take, _transposed, _negated
        self.binary, self.compare = _binary, _compare
        self.position = lambda value: index_position(_plain(value))
        self.end = lambda value: slice_end(_plain(value))

    def _differential(self, node: ast.AST) -> Node:
        def refused(env: Env) -> Any:
            raise Unstackable("d(...)")

        return refused

    def _Call(self, node: ast.Call) -> Node:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        if name == DIFFERENTIAL and DIFFERENTIAL not in FUNCTIONS:
            return self._differential(node.args[0])
        if name == SPECTRAL:  # funm(X, f): f is a function's name, passed as the function
            matrix, scalar = self.node(node.args[0]), FUNCTIONS[called_name_arg(node)].fn
            funm = FUNCTIONS[SPECTRAL].fn
            return lambda env: _call(SPECTRAL, lambda x: funm(x, scalar), [matrix(env)], {})
        fn, complex_form = FUNCTIONS[name].fn, FUNCTIONS[name].complex_form
        args = [self.node(a) for a in node.args]
        kwargs = {kw.arg: integer_literal(kw.value) for kw in node.keywords if kw.arg}

        def call(env: Env) -> Any:
            chosen = complex_form if complex_form is not None and COMPLEX_VALUES in env else fn
            return _call(name, chosen, [a(env) for a in args], kwargs)

        return call


def _plain(value: Any) -> Any:
    """An index or a slice's end, which must be the same at every point."""
    if isinstance(value, Batch):
        raise Unstackable("an index that moves")
    return value


def rows(value: Any, count: int, shape: tuple[int, ...]) -> np.ndarray:
    """`value` (a `Batch`, or a plain value the same at every point) as a (count, *shape)
    array: row i its value at point i, broadcast to `shape`."""
    if isinstance(value, Batch):
        return np.broadcast_to(_padded(value, len(shape)), (count, *shape))
    return np.broadcast_to(value, (count, *shape))
