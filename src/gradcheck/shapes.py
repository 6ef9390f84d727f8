"""Shapes without numbers: what `lint` can tell about an identity from its declarations.

Every input and constant declares its shape in dimension names (or numbers), so much of
what would go wrong at run time is known before a single matrix is drawn: `A @ X` with A
and X both n x m, `inv` of a matrix that is not square, a differential that does not have
f's shape. `infer` walks an expression's checked tree with shapes for values; a shape is
a tuple of dimension names and numbers, or None where it cannot be told without numbers
(indexing, a Kronecker product, a function not in the table), and nothing unknown is
ever reported. Two different dimension names are different sizes: a file that relies
on m and n being equal fails as soon as someone runs it with `--dim m=5`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gradcheck.catalogue import Identity
from gradcheck.expr import DIFFERENTIAL, Expr

__all__ = ["ShapeMismatch", "infer", "problems"]

Dim = str | int
Shape = tuple[Dim, ...] | None


class ShapeMismatch(Exception):
    """Two shapes that cannot meet, in a sub-expression: what, where, and both shapes."""


@dataclass(frozen=True)
class _Sizes:
    """The identity's dimension sizes, to compare a name with a number."""

    dims: Mapping[str, int]

    def same(self, a: Dim, b: Dim) -> bool | None:
        """Whether two dimensions are equal: True, False, or None when it depends on sizes
        the file does not fix (a name against a number it is not declared with)."""
        if a == b:
            return True
        if isinstance(a, str) == isinstance(b, str):  # two names, or two numbers, that differ
            return False
        name, number = (a, b) if isinstance(a, str) else (b, a)
        size = self.dims.get(str(name))
        return None if size is None else size == number


def text(shape: Shape) -> str:
    if shape is None:
        return "unknown"
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


ELEMENTWISE = {"exp", "log", "sqrt", "sin", "cos", "tanh", "abs", "sign", "sigmoid", "relu", "softplus", "step"}
SQUARE_SAME = {"expm", "logm", "sqrtm", "sinm", "cosm", "signm", "sym", "chol", "adj", "inv", "powm", "matrix_power"}
SQUARE_SCALAR = {"det", "logdet"}
SCALAR = {"norm", "logsumexp"}
REDUCTIONS = {"sum", "mean", "max", "min", "logsumexp"}


class _Walker:
    def __init__(self, source: str, env: Mapping[str, Shape], sizes: _Sizes) -> None:
        self.source = source
        self.env = env
        self.sizes = sizes

    def segment(self, node: ast.AST) -> str:
        text_ = ast.get_source_segment(self.source, node) or ast.unparse(node)
        return text_ if len(text_) <= 60 else text_[:57] + "..."

    def fail(self, node: ast.AST, message: str) -> ShapeMismatch:
        return ShapeMismatch(f"{message} in '{self.segment(node)}'")

    def shape(self, node: ast.AST) -> Shape:
        method: Callable[[ast.AST], Shape] | None = getattr(self, f"_{type(node).__name__}", None)
        return None if method is None else method(node)

    def _Constant(self, node: ast.Constant) -> Shape:
        return ()

    def _Name(self, node: ast.Name) -> Shape:
        return self.env.get(node.id)

    def _Attribute(self, node: ast.Attribute) -> Shape:
        inner = self.shape(node.value)
        return None if inner is None else _transposed(inner)

    def _UnaryOp(self, node: ast.UnaryOp) -> Shape:
        return self.shape(node.operand)

    def _BinOp(self, node: ast.BinOp) -> Shape:
        a, b = self.shape(node.left), self.shape(node.right)
        if isinstance(node.op, ast.MatMult):
            return self.matmul(node, a, b)
        return self.broadcast(node, a, b)

    def _Compare(self, node: ast.Compare) -> Shape:
        return self.broadcast(node, self.shape(node.left), self.shape(node.comparators[0]))

    def matmul(self, node: ast.AST, a: Shape, b: Shape) -> Shape:
        if a is None or b is None or len(a) != 2 or len(b) != 2:
            return None
        if self.sizes.same(a[1], b[0]) is False:
            raise self.fail(node, f"matmul of shapes {text(a)} and {text(b)}: {a[1]} columns against {b[0]} rows")
        return (a[0], b[1])

    def broadcast(self, node: ast.AST, *shapes: Shape) -> Shape:
        if any(s is None for s in shapes):
            return None
        known = [s for s in shapes if s is not None]
        size = max(len(s) for s in known)
        out: list[Dim] = []
        for k in range(size):
            dims = [s[len(s) - size + k] for s in known if len(s) - size + k >= 0]
            chosen: Dim = 1
            for d in dims:
                if d == 1:
                    continue
                if chosen == 1:
                    chosen = d
                elif self.sizes.same(chosen, d) is False:
                    raise self.fail(node, "shapes " + " and ".join(text(s) for s in known) + " do not broadcast")
            out.append(chosen)
        return tuple(out)

    def _Call(self, node: ast.Call) -> Shape:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        args = [self.shape(a) for a in node.args]
        if name == DIFFERENTIAL:
            return args[0]
        if any(kw.arg == "axis" for kw in node.keywords):
            return None
        first = args[0] if args else None
        if name in ELEMENTWISE or name == "softmax":
            return first
        if first is not None and len(first) > 2:  # a stack of matrices (format 6): not followed here
            return first if name in SQUARE_SAME else None
        if name in SQUARE_SAME or name in SQUARE_SCALAR or name == "trace":
            if first is not None and len(first) == 2 and self.sizes.same(first[0], first[1]) is False \
                    and not (name == "trace" and first == (1, 1)):
                raise self.fail(node, f"{name} needs a square matrix, got shape {text(first)}")
            return () if name in SQUARE_SCALAR or name == "trace" else first
        if name in SCALAR or name in REDUCTIONS:
            return ()
        if name in ("transpose", "pinv"):
            return None if first is None else _transposed(first)
        if name in ("maximum", "minimum", "where"):
            return self.broadcast(node, *args)
        if name == "solve" and len(args) == 2:
            a, b = args
            if a is not None and len(a) == 2 and self.sizes.same(a[0], a[1]) is False:
                raise self.fail(node, f"solve needs a square matrix, got shape {text(a)}")
            if a is not None and b is not None and len(a) == 2 and b and self.sizes.same(a[0], b[0]) is False:
                raise self.fail(node, f"solve of shape {text(a)} with a right-hand side of shape {text(b)}")
            return None if a is None or b is None or len(a) != 2 else (a[1], *b[1:])
        if name in ("eye", "ones", "zeros"):
            return self.constructor(name, node.args)
        return None

    def constructor(self, name: str, args: Sequence[ast.AST]) -> Shape:
        dims: list[Dim] = []
        for a in args:
            if isinstance(a, ast.Constant) and isinstance(a.value, int):
                dims.append(a.value)
            elif isinstance(a, ast.Name) and a.id in self.sizes.dims:
                dims.append(a.id)
            else:
                return None
        return (dims[0], dims[0]) if name == "eye" and len(dims) == 1 else tuple(dims)


def _transposed(shape: tuple[Dim, ...]) -> tuple[Dim, ...]:
    """X.T's shape: a matrix's reversed, a stack's last two swapped (format 6)."""
    return (*shape[:-2], shape[-1], shape[-2]) if len(shape) > 2 else tuple(reversed(shape))


def infer(expr: Expr, env: Mapping[str, Shape], dims: Mapping[str, int]) -> Shape:
    """The shape of `expr` given the shapes of its names; raises ShapeMismatch."""
    if expr.tree is None:
        return None
    try:
        return _Walker(expr.source, env, _Sizes(dims)).shape(expr.tree.body)
    except (IndexError, TypeError, ValueError):  # a form the table does not know: no claim about it
        return None


def problems(identity: Identity) -> list[tuple[str, int | None, str]]:
    """Every shape mismatch the declarations reveal, as (key, line, message)."""
    env: dict[str, Shape] = {d: () for d in identity.dims}
    env.update({v.name: tuple(v.shape) for v in (*identity.inputs, *identity.constants)})
    found: list[tuple[str, int | None, str]] = []
    for name, expr in identity.lets:
        env[name] = _shape_of(expr, env, identity.dims, f"let {name}", identity.lines.get(f"let {name}"), found)
    f = _shape_of(identity.function, env, identity.dims, "function", identity.lines.get("function"), found)
    for claim in identity.claims:
        scope = dict(env)
        scope.update({f"d{v.name}": tuple(v.shape) for v in identity.inputs})
        if claim.direction:
            wrt = next((v for v in identity.inputs if v.name == claim.wrt), None)
            scope[claim.direction] = f if claim.form == "vjp" else (tuple(wrt.shape) if wrt else None)
        key = f"claim {claim.index}"
        for k, expr in enumerate((claim.expr, *claim.rest)):
            shape = _shape_of(expr, scope, identity.dims, key, claim.line, found)
            constant = not expr.names and "differential" not in expr.syntax  # 0 has every shape
            if claim.form in ("differential", "equals", "derivation") and not constant \
                    and not _fits(shape, f, identity.dims):
                where = f" (step {k + 1})" if claim.rest else ""
                found.append((key, claim.line, f"'{expr.source}'{where} has shape {text(shape)} but f has shape "
                                                f"{text(f)}"))
    return found


def _shape_of(expr: Expr, scope: Mapping[str, Shape], dims: Mapping[str, int], key: str, line: int | None,
              found: list[tuple[str, int | None, str]]) -> Shape:
    try:
        return infer(expr, scope, dims)
    except ShapeMismatch as exc:
        found.append((key, line, str(exc)))
        return None


def _fits(shape: Shape, f: Shape, dims: Mapping[str, int]) -> bool:
    """Whether a claim's shape may be f's: unknown, scalar-like on both sides, or equal."""
    if shape is None or f is None:
        return True
    if all(d == 1 for d in shape) and all(d == 1 for d in f):
        return True
    if len(shape) != len(f):
        return False
    return all(_Sizes(dims).same(a, b) is not False for a, b in zip(shape, f))
