"""Python functions of many inputs, seen as an identity that the checker judges.

The checker works on real arrays named by strings. A call such as ``f(W, params, z)``
has arguments that are pytrees (gradcheck.pytree) of real or complex arrays of any
number of dimensions; here each differentiated leaf becomes one real input of the
identity (a complex leaf two: its real and its imaginary part, so that C is R^2), f's
output (any tree, real or complex) one real array, and the claimed derivative one claim
per real input, of the claim form that matches how the user states it:

- ``grad(*args)``: the gradient of a real scalar f, shaped like the arguments
  (`derivative` claims, layout denominator);
- ``jacobian(*args)``: of each leaf, the matrix d vec(f) / d vec(x) (`derivative`,
  layout numerator), or an array of shape f.shape + x.shape;
- ``vjp(*args, cotangent)``: the cotangents of the arguments (`vjp` claims);
- ``jvp(*args, tangents)``: the change of f along tangents of the arguments (`jvp`).

Complex numbers follow PyTorch's convention: R^2 with the inner product Re(conj(a) b),
so the gradient of a real f with respect to z = x + iy is df/dx + i df/dy (twice the
Wirtinger derivative df/d conj(z)), and a vjp takes and returns cotangents in that sense.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck.catalogue import Claim, Identity, Variable
from gradcheck.errors import EvaluationError, printable
from gradcheck.expr import Expr
from gradcheck.pytree import Structure, flatten, leaves_in_order, matches, unflatten

FORMS = ("grad", "jacobian", "vjp", "jvp")
# The names a vjp's cotangent and a jvp's tangent are bound to: not a Python name, so no
# input (an argument, or a leaf path such as p['W']) can take them.
COTANGENT, TANGENT = "<cotangent>", "<tangent>"


@dataclass(frozen=True)
class Part:
    """One real input of the identity: a differentiated leaf, or one half of a complex one."""

    name: str  # the identity's name for it: the leaf's path, with .real or .imag if complex
    leaf: int  # position of the leaf among all leaves of all arguments
    component: str  # "" (a real leaf), "real" or "imag"
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Argument:
    """One argument of f: its name, its tree, its leaves' positions, whether it is differentiated."""

    name: str
    structure: Structure
    first: int  # position of its first leaf among all leaves
    wrt: bool

    @property
    def leaves(self) -> range:
        return range(self.first, self.first + self.structure.leaves)


@dataclass(frozen=True)
class Call:
    """The arguments of a call, split into the real inputs the checker moves and the rest
    (held fixed, passed as given)."""

    arguments: tuple[Argument, ...]
    values: tuple[Any, ...]  # every leaf, differentiated ones as float64 / complex128 arrays
    parts: tuple[Part, ...]
    single: bool  # derivatives come as one argument's tree (else a tuple, one per differentiated argument)

    def point(self) -> dict[str, np.ndarray]:
        """The value of each real input at the point."""
        return {p.name: _component(self.values[p.leaf], p.component) for p in self.parts}

    def arguments_at(self, real: Sequence[np.ndarray]) -> list[Any]:
        """The arguments of f with each part at `real` (in the order of `parts`)."""
        leaves = list(self.values)
        for p, value in zip(self.parts, real):
            if p.component == "":
                leaves[p.leaf] = value
            elif p.component == "real":
                leaves[p.leaf] = value + 1j * np.imag(self.values[p.leaf])
        for p, value in zip(self.parts, real):
            if p.component == "imag":
                leaves[p.leaf] = np.real(leaves[p.leaf]) + 1j * value
        return [unflatten(a.structure, iter(leaves[a.first: a.first + a.structure.leaves])) for a in self.arguments]

    @property
    def differentiated(self) -> tuple[Argument, ...]:
        return tuple(a for a in self.arguments if a.wrt)

    def derivative_structure(self) -> Structure:
        """The structure a gradient, a vjp or a tangent has: the differentiated argument's
        own when `single`, else a tuple of them."""
        if self.single:
            return self.differentiated[0].structure
        return Structure("tuple", tuple(a.structure for a in self.differentiated))

    def derivative_leaf(self, part: Part) -> int:
        """The position of `part`'s leaf among the leaves of a derivative tree."""
        position = 0
        for a in self.differentiated:
            if part.leaf in a.leaves:
                return position + part.leaf - a.first
            position += a.structure.leaves
        raise AssertionError(part)


def _component(value: np.ndarray, component: str) -> np.ndarray:
    if component == "real":
        return np.ascontiguousarray(np.real(value))
    if component == "imag":
        return np.ascontiguousarray(np.imag(value))
    return value


def make_call(names: Sequence[str], arguments: Sequence[Any], wrt: Sequence[bool], single: bool) -> Call:
    """The call of f with `arguments`, those flagged in `wrt` differentiated (their leaves
    already checked to be float64 or complex128 arrays by the caller)."""
    built: list[Argument] = []
    values: list[Any] = []
    parts: list[Part] = []
    for name, argument, moves in zip(names, arguments, wrt):
        leaves, structure = flatten(argument, name)
        built.append(Argument(name, structure, len(values), moves))
        for leaf in leaves:
            if moves:
                value = np.asarray(leaf.value)
                halves = ("real", "imag") if np.iscomplexobj(value) else ("",)
                parts.extend(Part(leaf.path + (f".{h}" if h else ""), len(values), h, value.shape) for h in halves)
            values.append(leaf.value)
    return Call(tuple(built), tuple(values), tuple(parts), single)


# -- the output of f, as one real array -----------------------------------------------

@dataclass(frozen=True)
class Output:
    """What f returns at the point: a real array is kept as it is (its shape matters for
    layouts); anything else (complex, several arrays) is packed into one real vector."""

    structure: Structure
    shapes: tuple[tuple[int, ...], ...]
    complex_leaves: tuple[bool, ...]
    single_precision: bool  # f computes in float32 even from float64 arguments

    @property
    def plain(self) -> bool:
        return self.structure.kind == "leaf" and not self.complex_leaves[0]

    @property
    def real_scalar(self) -> bool:
        return self.plain and int(np.prod(self.shapes[0])) == 1

    def describe(self) -> str:
        if self.structure.kind == "leaf":
            kind = "complex" if self.complex_leaves[0] else "real"
            return f"a {kind} array of shape {_shape(self.shapes[0])}"
        return f"a tree {self.structure.describe()}"

    def pack(self, out: Any, what: str) -> np.ndarray:
        """`out` (f's value, or a jvp's) as one real array; an EvaluationError when its
        structure or shapes are not f's."""
        if not matches(out, self.structure):
            raise EvaluationError(f"{what} returned {_tree_text(out)}, expected {self.describe()} (as f)")
        leaves = [_array(v, what) for v in leaves_in_order(out, self.structure)]
        for leaf, shape in zip(leaves, self.shapes):
            if leaf.shape != shape:
                raise EvaluationError(f"{what} returned shape {_shape(leaf.shape)}, expected {_shape(shape)} (as f)")
        if self.plain:
            return np.asarray(np.real(leaves[0]), dtype=float)
        pieces: list[np.ndarray] = []
        for leaf, is_complex in zip(leaves, self.complex_leaves):
            pieces.append(np.real(leaf).ravel().astype(float))
            if is_complex:
                pieces.append(np.imag(leaf).ravel().astype(float))
        return np.concatenate(pieces) if pieces else np.zeros(0)

    def unpack(self, packed: np.ndarray) -> Any:
        """A cotangent of the packed output, as a tree shaped like f's output (complex
        leaves recombined)."""
        if self.plain:
            return packed
        leaves, at = [], 0
        for shape, is_complex in zip(self.shapes, self.complex_leaves):
            size = int(np.prod(shape))
            value = packed[at: at + size].reshape(shape)
            at += size
            if is_complex:
                value = value + 1j * packed[at: at + size].reshape(shape)
                at += size
            leaves.append(value)
        return unflatten(self.structure, iter(leaves))


def observe(value: Any, what: str) -> Output:
    """The output description of f from its value at the point."""
    leaves, structure = flatten(value, "")
    arrays = [_array(leaf.value, what) for leaf in leaves]
    if not arrays:
        raise EvaluationError(f"{what} returned {structure.describe()}, with no array in it")
    single = all(a.dtype in (np.float32, np.float16, np.complex64) for a in arrays)
    return Output(structure, tuple(a.shape for a in arrays), tuple(bool(np.iscomplexobj(a)) for a in arrays), single)


def _array(value: Any, what: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 (any object a user's function returns)
        raise EvaluationError(f"{what} returned {type(value).__name__}, not an array ({exc})") from None
    if array.dtype.kind not in "biufc":
        raise EvaluationError(f"{what} returned {_what_it_is(value)}, not numbers")
    return array


def _what_it_is(value: Any) -> str:
    if value is None or isinstance(value, str):
        return printable(repr(value))[:60]
    if isinstance(value, np.ndarray):
        return f"an array of {value.dtype}"
    name = type(value).__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _tree_text(value: Any) -> str:
    leaves, structure = flatten(value, "")
    if structure.kind == "leaf":
        return f"an array of shape {_shape(np.shape(value))}" if hasattr(value, "shape") else type(value).__name__
    return f"a tree {structure.describe()}"


# -- calling the user's functions ----------------------------------------------------

def guarded(fn: Callable[..., Any], what: str) -> Callable[..., Any]:
    """`fn` whose every exception (NumPy's, PyTorch's, JAX's, the user's own) becomes an
    EvaluationError naming `what`: an ERROR result, never a traceback."""

    def call(*args: Any) -> Any:
        try:
            with np.errstate(all="ignore"):
                return fn(*args)
        except EvaluationError:
            raise
        except Exception as exc:  # noqa: BLE001 (a user's function may raise anything)
            text = str(exc).strip().splitlines()
            raise EvaluationError(f"{what} raised {type(exc).__name__}"
                                  + (f": {text[0]}" if text else "")) from None

    return call


@dataclass(frozen=True)
class Functions:
    """The user's f and claimed derivative, each already `guarded`."""

    f: Callable[..., Any]
    derivative: Callable[..., Any]
    form: str  # one of FORMS
    vec: str = "column"  # the order of a Jacobian's rows and columns
    layout: str = "denominator"  # a gradient's layout, for matrix arguments


def identity(name: str, call: Call, output: Output, fns: Functions, analytic: bool = False) -> Identity:
    """The identity whose function is f and whose claims state `fns.derivative`, one
    claim per real input; with `analytic`, f may be differentiated by the complex step
    (real inputs, one real array out)."""
    names = [p.name for p in call.parts]

    def f_value(*real: np.ndarray) -> np.ndarray:
        return output.pack(fns.f(*call.arguments_at(real)), "f")

    def f_analytic(*real: np.ndarray) -> np.ndarray:
        # the complex step: f of real inputs, moved along an imaginary direction, taken as
        # complex-analytic (the caller vouches for it); its value stays complex
        return np.asarray(fns.f(*call.arguments_at(real)))

    function = (Expr.from_callable(f_analytic, "f", names, analytic=True) if analytic
                else Expr.from_callable(f_value, "f", names))
    claims = tuple(_claim(i + 1, p, call, output, fns) for i, p in enumerate(call.parts))
    inputs = tuple(Variable(p.name, p.shape) for p in call.parts)
    return Identity(name=name, path="<python>", inputs=inputs, function=function, claims=claims)


def _claim(index: int, part: Part, call: Call, output: Output, fns: Functions) -> Claim:
    names = [p.name for p in call.parts]
    label = f"{fns.form} wrt {part.name}"
    if fns.form == "jvp":
        return Claim(index, "jvp", Expr.from_callable(_jvp_value(part, call, output, fns), label, [*names, TANGENT]),
                     wrt=part.name, label=label, direction=TANGENT)
    if fns.form == "vjp":
        return Claim(index, "vjp", Expr.from_callable(_vjp_value(part, call, output, fns), label,
                                                      [*names, COTANGENT]),
                     wrt=part.name, label=label, direction=COTANGENT)
    if fns.form == "grad":
        value = _gradient_value(part, call, fns)
        layout = fns.layout if len(part.shape) == 2 else "denominator"
        return Claim(index, "derivative", Expr.from_callable(value, label, names), wrt=part.name,
                     layout=layout, label=label)
    jacobian = _jacobian_value(part, call, output, fns)
    layout = "denominator" if output.real_scalar else "numerator"
    return Claim(index, "derivative", Expr.from_callable(jacobian, label, names), wrt=part.name,
                 layout=layout, label=label)


def _pick(tree: Any, part: Part, call: Call, what: str) -> np.ndarray:
    """`part`'s entries in a derivative tree returned by the user (a gradient or a vjp)."""
    structure = call.derivative_structure()
    if not matches(tree, structure):
        raise EvaluationError(f"{what} returned {_tree_text(tree)}, expected {_expected(call)}")
    leaf = _array(leaves_in_order(tree, structure)[call.derivative_leaf(part)], what)
    if leaf.shape != part.shape and leaf.size == int(np.prod(part.shape)) and leaf.size == 1:
        leaf = leaf.reshape(part.shape)
    if leaf.shape != part.shape:
        path = part.name.removesuffix(".real").removesuffix(".imag")
        raise EvaluationError(f"{what} returned shape {_shape(leaf.shape)} for {path}, "
                              f"expected {_shape(part.shape)} (the shape of {path})")
    if part.component == "imag":
        return np.asarray(np.imag(leaf), dtype=float)
    return np.asarray(np.real(leaf), dtype=float)


def _expected(call: Call) -> str:
    if call.single:
        structure = call.differentiated[0].structure
        return (f"an array shaped like {call.differentiated[0].name}" if structure.kind == "leaf"
                else f"a tree shaped like {call.differentiated[0].name}: {structure.describe()}")
    names = ", ".join(a.name for a in call.differentiated)
    return f"a tuple with one entry for each of {names}"


def _gradient_value(part: Part, call: Call, fns: Functions) -> Callable[..., np.ndarray]:
    def value(*real: np.ndarray) -> np.ndarray:
        return _pick(fns.derivative(*call.arguments_at(real)), part, call, "grad")

    return value


def _vjp_value(part: Part, call: Call, output: Output, fns: Functions) -> Callable[..., np.ndarray]:
    def value(*real_and_cotangent: np.ndarray) -> np.ndarray:
        *real, g = real_and_cotangent
        return _pick(fns.derivative(*call.arguments_at(real), output.unpack(np.asarray(g))), part, call, "vjp")

    return value


def _jvp_value(part: Part, call: Call, output: Output, fns: Functions) -> Callable[..., np.ndarray]:
    def value(*real_and_tangent: np.ndarray) -> np.ndarray:
        *real, v = real_and_tangent
        return output.pack(fns.derivative(*call.arguments_at(real), _tangents(call, part, np.asarray(v))), "jvp")

    return value


def _tangents(call: Call, part: Part, v: np.ndarray) -> Any:
    """Tangents of the differentiated arguments: `v` along `part`, zero elsewhere."""
    leaves = []
    for a in call.differentiated:
        for i in a.leaves:
            value = np.asarray(call.values[i])
            zero = np.zeros_like(value)
            if i == part.leaf:
                zero = zero + (1j * v if part.component == "imag" else v)
            leaves.append(zero)
    return unflatten(call.derivative_structure(), iter(leaves))


def _jacobian_value(part: Part, call: Call, output: Output, fns: Functions) -> Callable[..., np.ndarray]:
    f_shape = output.shapes[0]

    def value(*real: np.ndarray) -> np.ndarray:
        given = fns.derivative(*call.arguments_at(real))
        j = _pick(given, Part(part.name, part.leaf, part.component, f_shape + part.shape), call, "jacobian") \
            if _full_shaped(given, call, part, f_shape) else None
        if j is None:
            m, n = int(np.prod(f_shape)), int(np.prod(part.shape))
            flat = _pick(given, Part(part.name, part.leaf, part.component, (m, n)), call, "jacobian")
            j = flat.reshape(f_shape + part.shape) if fns.vec == "row" else _from_column(flat, f_shape, part.shape)
        if output.real_scalar:
            return np.asarray(j).reshape(part.shape)
        return _to_column(j, f_shape, part.shape)

    return value


def _full_shaped(given: Any, call: Call, part: Part, f_shape: tuple[int, ...]) -> bool:
    """Whether a Jacobian is given as an array of shape f.shape + x.shape (JAX's
    jacobian), rather than as the matrix d vec(f) / d vec(x)."""
    structure = call.derivative_structure()
    if not matches(given, structure):
        return False
    leaf = np.shape(leaves_in_order(given, structure)[call.derivative_leaf(part)])
    m, n = int(np.prod(f_shape)), int(np.prod(part.shape))
    return tuple(leaf) == f_shape + part.shape and tuple(leaf) != (m, n)


def _from_column(flat: np.ndarray, f_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> np.ndarray:
    """The matrix d vec(f) / d vec(x) (column-major vec) as an array of shape f.shape + x.shape."""
    return np.asarray(flat).reshape(f_shape[::-1] + x_shape[::-1]).transpose(_reverse_both(f_shape, x_shape))


def _to_column(full: np.ndarray, f_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> np.ndarray:
    """An array of shape f.shape + x.shape as the matrix d vec(f) / d vec(x), vec column-major."""
    m, n = int(np.prod(f_shape)), int(np.prod(x_shape))
    return np.ascontiguousarray(np.asarray(full).transpose(_reverse_both(f_shape, x_shape))).reshape(m, n)


def _reverse_both(f_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> tuple[int, ...]:
    k = len(f_shape)
    return tuple(range(k - 1, -1, -1)) + tuple(range(k + len(x_shape) - 1, k - 1, -1))
