"""The expression language: parse, check against an allow-list, compile.

An expression is Python syntax with NumPy meaning. It is parsed with `ast` and
every node is checked against an explicit allow-list before it is turned into a
tree of closures; user text is never given to `eval`, `exec` or `compile`.
Allowed: numbers, names in scope, ``+ - * / ** @``, unary ``-``/``+``,
comparisons, calls of the functions in `functions.FUNCTIONS` (keyword ``axis``
only), and the attribute ``.T``. In a claim that has directions (dX), ``d(E)`` is the
differential of E along them (format 5), computed exactly by a complex step.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import dataclasses
import operator
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from gradcheck.errors import EvalError, EvaluationError, ExpressionError, NonFiniteError, did_you_mean
from gradcheck.functions import (
    COMPLEX_STEP,
    CONSTANTS,
    FUNCTIONS,
    Value,
    check_size,
    is_labels,
    shape_str,
    transposed,
)

__all__ = ["Expr", "parse", "MAX_LENGTH", "MAX_DEPTH", "DIFFERENTIAL", "FRAME", "COMPLEX_VALUES"]

MAX_LENGTH = 10_000  # characters in one expression
MAX_DEPTH = 100  # nesting depth of the syntax tree

DIFFERENTIAL = "d"  # d(E): the differential of E along the claim's directions
# The key under which an environment carries what d(E) needs: the names of the inputs
# and the lets in order (E may read a let that moves with the inputs). Not a name.
FRAME = "(frame)"
# Set in the environment of an identity whose inputs or constants are complex (format 6):
# complex values there are the numbers themselves, not a complex step through real ones, so
# comparisons refuse them and logdet means log|det Z|.
COMPLEX_VALUES = "(complex values)"
_CS_STEP = 1e-20  # the complex step, relative: its error is of order step**2

Env = Mapping[str, Value]
Node = Callable[[Env], Value]
Observer = Callable[[Value, str], None]

BINOPS: dict[type[ast.operator], tuple[str, str]] = {
    ast.Add: ("+", "add"), ast.Sub: ("-", "subtract"), ast.Mult: ("*", "multiply"),
    ast.Div: ("/", "divide"), ast.Pow: ("**", "power"), ast.MatMult: ("@", "matmul"),
}
COMPARISONS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_FRIENDLY: dict[type[ast.AST], str] = {
    ast.Lambda: "lambda", ast.ListComp: "comprehension", ast.SetComp: "comprehension",
    ast.DictComp: "comprehension", ast.GeneratorExp: "comprehension", ast.JoinedStr: "f-string",
    ast.NamedExpr: "assignment (:=)", ast.Starred: "starred argument",
    ast.IfExp: "conditional expression (use where)", ast.BoolOp: "and/or (use where)",
    ast.Tuple: "tuple", ast.List: "list", ast.Dict: "dict", ast.Set: "set",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "slice",
}


@dataclass(frozen=True)
class Expr:
    """A checked, compiled expression.

    `names` are the variables it reads; `analytic` is False when it uses a
    function or comparison that is not complex-analytic (abs, relu, where, ...).
    """

    source: str
    tree: ast.Expression | None = field(repr=False, compare=False)
    names: frozenset[str]
    nonanalytic: frozenset[str]  # what is not complex-analytic: function names, "comparison"
    fn: Node = field(repr=False, compare=False)
    calls: frozenset[str] = frozenset()  # the functions it calls
    syntax: frozenset[str] = frozenset()  # syntax beyond format 1 ("subscript")
    tex: str = ""  # the LaTeX it was written in (format 4), translated into `source`

    @property
    def analytic(self) -> bool:
        return not self.nonanalytic

    def moves(self, directions: Collection[str]) -> bool:
        """Whether it is a differential: it reads one of `directions` or takes d(...)."""
        return bool(self.names & set(directions)) or "differential" in self.syntax

    def __reduce__(self) -> tuple[Any, ...]:
        # Closures do not pickle: a copy in another process is parsed and compiled again,
        # when first evaluated (the parent of a run's workers only reports on what they
        # loaded: parsing the catalogue again there took 1.2 s).
        if "tree" in self.__dict__ and self.tree is None:  # a Python function's (the API): its source
            return (_reparsed, (self.source, self.names, self.tex, "differential" in self.syntax))
        return (_unpickled, (self.source, self.names, self.nonanalytic, self.calls, self.syntax, self.tex))

    if not TYPE_CHECKING:  # a typo in an attribute stays a type error
        def __getattr__(self, name: str) -> Any:
            """`tree` and `fn` of a copy from `_unpickled`, made on first use."""
            if name not in ("tree", "fn") or "source" not in self.__dict__:
                raise AttributeError(name)
            parsed = _reparsed(self.source, self.names, self.tex, "differential" in self.syntax)
            object.__setattr__(self, "tree", parsed.tree)
            object.__setattr__(self, "fn", parsed.fn)
            return self.__dict__[name]

    @classmethod
    def from_callable(cls, fn: Callable[..., Any], source: str, names: Sequence[str],
                      analytic: bool = False) -> Expr:
        """An expression computed by a Python function of the named variables (the API)."""
        arguments = list(names)

        def call(env: Env) -> Value:
            try:
                return np.asarray(fn(*(env[n] for n in arguments)))
            except (ValueError, TypeError, ArithmeticError, np.linalg.LinAlgError) as exc:
                raise EvaluationError(f"{source} raised {type(exc).__name__}: {exc}") from None

        return cls(source, None, frozenset(names), frozenset() if analytic else frozenset({source}), call)

    def terms(self) -> tuple[tuple[float, Expr], ...]:
        """The expression as a signed sum of terms (a - (b + c) is a, -b, -c), each an
        expression of its own; itself alone when it is not a sum. Differencing the
        terms that change, instead of the whole, keeps a large constant or an unrelated
        large term out of a derivative (1e8 + g(x) rounds g to 1e8 eps)."""
        if self.tree is None:
            return ((1.0, self),)
        found: list[tuple[float, ast.AST]] = []

        def walk(node: ast.AST, sign: float) -> None:
            if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
                walk(node.left, sign)
                walk(node.right, -sign if isinstance(node.op, ast.Sub) else sign)
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
                walk(node.operand, -sign if isinstance(node.op, ast.USub) else sign)
            else:
                found.append((sign, node))

        walk(self.tree.body, 1.0)
        if len(found) == 1:
            return ((1.0, self),)
        return tuple((sign, parse(ast.get_source_segment(self.source, node) or "", self.names))
                     for sign, node in found)

    def hoisted(self, moving: Collection[str]) -> tuple[tuple[tuple[str, Expr], ...], Expr]:
        """The parts of the expression whose values do not depend on the names in `moving`
        (each largest such part that computes something, outside d(...)), each under a name
        of its own, and the expression reading them by those names: at one point the parts
        are evaluated once for all the directions a claim is evaluated along (inv(X) in
        tr(inv(X) dX): one inverse, not one per direction)."""
        if self.tree is None:
            return (), self
        known: dict[frozenset[str], tuple[tuple[tuple[str, Expr], ...], Expr]] = self.__dict__.setdefault(
            "_hoisted", {})  # made once for each set of names: every point of every trial asks
        key = frozenset(moving)
        if key not in known:
            hoister = _Hoister(self.source, self.names, key)
            known[key] = (tuple(hoister.parts), rest) if (rest := self._named_parts(hoister)) else ((), self)
        return known[key]

    def reusing(self, named: Mapping[str, str]) -> Expr:
        """The expression reading the variable `named[t]` in place of each largest part
        whose text is t (as Python prints it: spacing aside), outside d(...): a claim
        written inv(X).T where a let Xi is inv(X) takes the let's value at a point, not a
        second inverse. Made once for each mapping."""
        if self.tree is None or not named:
            return self
        known: dict[frozenset[tuple[str, str]], Expr] = self.__dict__.setdefault("_reusing", {})
        key = frozenset(named.items())
        if key not in known:
            known[key] = self._named_parts(_Reuser(named)) or self
        return known[key]

    def _named_parts(self, namer: _PartNamer) -> Expr | None:
        """A copy reading by name the parts of the tree that `namer` names (None: it names
        none)."""
        assert self.tree is not None
        tree = copy.deepcopy(self.tree)
        tree.body = cast(ast.expr, namer.visit(tree.body))
        if not namer.named:
            return None
        return dataclasses.replace(self, tree=tree, names=self.names | namer.named, fn=Compiler(self.source).node(tree.body))

    def __call__(self, env: Env) -> Value:
        if _QUIET.get():  # inside `quiet()`: floating-point warnings are off already
            return self.fn(env)
        with np.errstate(all="ignore"):
            return self.fn(env)

    def locate_nonfinite(self, env: Env) -> NonFiniteError | None:
        """Evaluate again, checking every node; the innermost non-finite one, if any."""
        if self.tree is None:  # a Python callable (the API): no nodes to look into
            return None
        try:
            self._observed(env, _raise_nonfinite)
        except NonFiniteError as exc:
            return exc
        return None

    def watch_calls(self, env: Env, names: Collection[str], hook: Callable[[str, str, list[Value]], None]) -> Value:
        """Evaluate, calling `hook(function, argument source, argument values)` before every
        call of a function in `names` (to look at the matrices an expression inverts)."""
        if self.tree is None:
            return self(env)
        compiled = Compiler(self.source, call_hook=(frozenset(names), hook)).node(self.tree.body)
        with np.errstate(all="ignore"):
            return compiled(env)

    def _observed(self, env: Env, observer: Observer) -> Value:
        assert self.tree is not None
        traced = Compiler(self.source, observer).node(self.tree.body)
        with np.errstate(all="ignore"):
            return traced(env)


# Whether floating-point warnings are off for this context (see `quiet`): entering
# np.errstate for each of a check's many evaluations cost as much as the smaller ones.
_QUIET: ContextVar[bool] = ContextVar("gradcheck_quiet", default=False)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Evaluate expressions inside the block with floating-point warnings off, set once
    (an overflow is a value that is not finite, which the caller handles, not a warning)."""
    with np.errstate(all="ignore"):
        token = _QUIET.set(True)
        try:
            yield
        finally:
            _QUIET.reset(token)


def _raise_nonfinite(value: Value, where: str) -> None:
    if not np.all(np.isfinite(value)):
        raise NonFiniteError(f"'{where}' is {_nonfinite_word(value)}")


def _unpickled(source: str, names: frozenset[str], nonanalytic: frozenset[str], calls: frozenset[str],
               syntax: frozenset[str], tex: str) -> Expr:
    """A copy of a parsed expression whose tree and compiled form are made when first
    used (see `Expr.__getattr__`)."""
    expr = object.__new__(Expr)
    for name, value in (("source", source), ("names", names), ("nonanalytic", nonanalytic), ("calls", calls),
                        ("syntax", syntax), ("tex", tex)):
        object.__setattr__(expr, name, value)
    return expr


def _reparsed(source: str, names: Collection[str], tex: str, moves: bool = False) -> Expr:
    # d(E) was parsed among directions: give it them again (any will do, they are not read)
    return dataclasses.replace(parse(source, names, extra_names=[f"d{n}" for n in names] if moves else ()), tex=tex)


def parse(source: object, scope: Collection[str], *, extra_names: Collection[str] = ()) -> Expr:
    """Parse `source` and check it against the allow-list.

    `scope` holds the variable names the expression may read (inputs, constants,
    lets and dimensions); `extra_names` adds names such as dX in a differential.
    Raises `ExpressionError` without a location; the caller adds it.
    """
    if isinstance(source, bool) or not isinstance(source, (str, int, float)):
        raise ExpressionError(f"expected an expression, got {_kind(source)}")
    text = str(source).strip()
    if not text:
        raise ExpressionError("empty expression")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is {len(text):,} characters long, over the limit of {MAX_LENGTH:,}")
    allowed = frozenset(scope) | frozenset(extra_names)
    tree = _syntax(text)
    checker = _Checker(text, allowed)
    names = checker.check(tree)
    return Expr(text, tree, frozenset(names), frozenset(checker.nonanalytic), Compiler(text).node(tree.body),
                frozenset(checker.calls), frozenset(checker.syntax))


def _directions(names: Collection[str]) -> frozenset[str]:
    """The directions among `names`: dX where X is among them too."""
    return frozenset(n for n in names if n[:1] == "d" and n[1:] in names)


def _kind(value: object) -> str:
    return {dict: "a mapping", list: "a list", type(None): "nothing"}.get(type(value), type(value).__name__)


def _syntax(text: str) -> ast.Expression:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        col = f" at column {exc.offset}" if exc.offset else ""
        why = "" if exc.msg == "invalid syntax" else f" ({exc.msg})"  # Python's own words, when they add any
        # X' (MATLAB's transpose) reads as the start of a string
        hint = "use .T for a transpose (X.T)" if "'" in text else ""
        raise ExpressionError(f"invalid syntax{col} in '{_short(text)}'{why}", hint=hint) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError(f"expression '{_short(text)}' is too deeply nested to parse") from None
    depth = _depth(tree)
    if depth > MAX_DEPTH:
        raise ExpressionError(
            f"expression '{_short(text)}' is nested {depth} levels deep, over the limit of {MAX_DEPTH}"
        )
    return tree


def _depth(tree: ast.AST) -> int:
    """Nesting depth, computed without recursion (the tree may be very deep)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Checker:
    """Walks a parsed tree and refuses every node not on the allow-list."""

    def __init__(self, text: str, scope: frozenset[str]) -> None:
        self.text = text
        self.scope = scope
        self.names: set[str] = set()
        self.calls: set[str] = set()  # functions called
        self.nonanalytic: set[str] = set()  # what rules out the complex step
        self.syntax: set[str] = set()  # syntax beyond format 1 ("subscript")
        self.index_parts: set[int] = set()  # ids of the tuples and slices inside a subscript
        self.checked: set[int] = set()  # ids of the calls d(E) whose E is checked already

    def check(self, tree: ast.Expression) -> set[str]:
        stack: list[ast.AST] = [tree.body]
        while stack:
            node = stack.pop()
            self.visit(node)
            if isinstance(node, ast.Call) and id(node) in self.checked:
                continue  # d(E): E was checked on its own by visit_Call
            if isinstance(node, ast.Call):  # the callee was checked by visit_Call
                # funm's second argument names a function (checked there), not a variable
                args = node.args[:1] if _called_name(node) == SPECTRAL else node.args
                stack.extend([*args, *(kw.value for kw in node.keywords)])
            else:
                stack.extend(ast.iter_child_nodes(node))
        return self.names

    def segment(self, node: ast.AST) -> str:
        return _short(ast.get_source_segment(self.text, node) or ast.unparse(node))

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, (ast.operator, ast.unaryop, ast.cmpop, ast.expr_context, ast.keyword)):
            return  # operators and contexts are checked with their parent node
        handler = getattr(self, f"visit_{type(node).__name__}", None)
        if handler is None:
            what = _FRIENDLY.get(type(node), type(node).__name__)
            raise ExpressionError(f"{what} is not allowed: '{self.segment(node)}'")
        handler(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, complex):  # 2j: an imaginary number (format 6)
            self.syntax.add("imaginary")
            self.nonanalytic.add("an imaginary number")  # the complex step would mix with it
            return
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ExpressionError(f"only numbers are allowed as literals, not {self.segment(node)}")

    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if name.startswith("_"):
            raise ExpressionError(f"names starting with '_' are not allowed: '{name}'")
        if name in FUNCTIONS:
            raise ExpressionError(f"function '{name}' must be called, as in {name}(...)")
        if name not in self.scope and name not in CONSTANTS:
            raise ExpressionError(
                f"unknown name '{name}'", hint=did_you_mean(name, self.scope | CONSTANTS.keys())
            )
        self.names.add(name)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        index = node.slice
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        if not parts or len(parts) > 2:
            raise ExpressionError(f"an index takes one or two positions (row, column): '{self.segment(node)}'")
        if isinstance(index, ast.Tuple):
            self.index_parts.add(id(index))
        for part in parts:
            if isinstance(part, ast.Slice):
                self.index_parts.add(id(part))
        self.syntax.add("subscript")

    def visit_Tuple(self, node: ast.Tuple) -> None:
        if id(node) not in self.index_parts:
            raise ExpressionError(f"tuple is not allowed: '{self.segment(node)}'")

    def visit_Slice(self, node: ast.Slice) -> None:
        if id(node) not in self.index_parts:
            raise ExpressionError(f"slice is not allowed: '{self.segment(node)}'")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "H":  # the conjugate transpose (format 6)
            self.syntax.add("conjugate transpose")
            self.nonanalytic.add(".H")
            return
        if node.attr != "T":
            raise ExpressionError(f"attribute '.{node.attr}' is not allowed (only .T and .H): "
                                  f"'{self.segment(node)}'")

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if type(node.op) not in BINOPS:
            # the usual slips from other notations: X^2 (MATLAB, LaTeX)
            hint = ("use ** for an element-wise power (X ** 2), or X @ X or matrix_power(X, 2) for a "
                    "matrix power") if isinstance(node.op, ast.BitXor) else ""
            raise ExpressionError(f"operator is not allowed: '{self.segment(node)}'", hint=hint)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise ExpressionError(f"operator is not allowed: '{self.segment(node)}'")

    def visit_Compare(self, node: ast.Compare) -> None:
        if len(node.ops) != 1 or type(node.ops[0]) not in COMPARISONS:
            raise ExpressionError(f"only single comparisons are allowed: '{self.segment(node)}'")
        self.nonanalytic.add("comparison")

    def visit_Call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name):
            raise ExpressionError(f"only named functions can be called: '{self.segment(node)}'")
        name = node.func.id
        if name.startswith("_"):
            raise ExpressionError(f"names starting with '_' are not allowed: '{name}'")
        if name == DIFFERENTIAL and name not in FUNCTIONS:
            self._differential(node)
            return
        fn = FUNCTIONS.get(name)
        if fn is None:
            kind = "variable" if name in self.scope else "function"
            hint = "" if kind == "variable" else did_you_mean(name, FUNCTIONS)
            raise ExpressionError(f"unknown function '{name}'" if kind == "function"
                                  else f"'{name}' is a variable, not a function", hint=hint)
        self._check_arguments(node, name, fn.min_args, fn.max_args, fn.keywords)
        if name == SPECTRAL:
            self._spectral_function(node)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise ExpressionError(f"starred argument is not allowed: '{self.segment(node)}'")
        self.calls.add(name)
        if not fn.analytic:
            self.nonanalytic.add(name)

    def _spectral_function(self, node: ast.Call) -> None:
        """funm(X, f): f is the name of a scalar function, applied to X's eigenvalues."""
        f = node.args[1]
        if not (isinstance(f, ast.Name) and f.id in SPECTRAL_FUNCTIONS):
            raise ExpressionError(f"funm's second argument is the name of a scalar function, one of "
                                  f"{', '.join(SPECTRAL_FUNCTIONS)}: '{self.segment(node)}'")
        self.calls.add(f.id)

    def _differential(self, node: ast.Call) -> None:
        """d(E): only where there are directions, of one expression without them, and of
        one that is complex-analytic (it is computed by a complex step, exact to rounding)."""
        directions = _directions(self.scope)
        if not directions:
            raise ExpressionError(f"d(...) is a differential, allowed only in a claim with directions "
                                  f"(a differential or a derivation): '{self.segment(node)}'")
        self._check_arguments(node, DIFFERENTIAL, 1, 1, frozenset())
        inner = _Checker(self.text, self.scope - directions)
        try:
            inner.check(ast.Expression(body=node.args[0]))
        except ExpressionError as exc:
            if any(isinstance(n, ast.Name) and n.id in directions for n in ast.walk(node.args[0])):
                raise ExpressionError(f"d(...) of an expression with a direction in it: "
                                      f"'{self.segment(node)}'") from None
            raise exc
        blocked = inner.nonanalytic - COMPLEX_STEP.keys() - {"comparison"}  # comparisons read real parts
        if blocked:
            what = sorted(blocked)[0]
            raise ExpressionError(
                f"d(...) is computed by a complex step and '{what}' is not complex-analytic: "
                f"'{self.segment(node)}'", hint="write this differential out with dX")
        self.names |= inner.names
        self.calls |= inner.calls
        self.syntax |= inner.syntax | {"differential"}
        self.checked.add(id(node))

    def _check_arguments(self, node: ast.Call, name: str, lo: int, hi: int,
                         keywords: frozenset[str]) -> None:
        n = len(node.args)
        if not lo <= n <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise ExpressionError(f"{name}() takes {want} argument{'s' * (hi != 1)}, got {n}: "
                                  f"'{self.segment(node)}'")
        for kw in node.keywords:
            if kw.arg is None or kw.arg not in keywords:
                allowed = ", ".join(sorted(keywords)) or "none"
                raise ExpressionError(f"{name}() keyword '{kw.arg or '**'}' is not allowed "
                                      f"(allowed: {allowed}): '{self.segment(node)}'")
            if integer_literal(kw.value) is None:
                raise ExpressionError(f"{name}() keyword '{kw.arg}' must be an integer: "
                                      f"'{self.segment(node)}'")


def integer_literal(node: ast.AST) -> int | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = integer_literal(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return int(node.value)
    return None


def _int_power(a: int, b: int) -> Value:
    # Exact integer powers only while small: 10 ** 10 ** 10 must not hang.
    if 0 <= b <= 64 and abs(a) <= 1_000_000:
        return a**b
    return np.float64(a) ** np.float64(b)


def binary(symbol: str, name: str, a: Value, b: Value) -> Value:
    ta, tb = type(a), type(b)
    if ta is int and tb is int and symbol != "/":
        return _int_power(a, b) if symbol == "**" else _INT_OPS[symbol](a, b)
    if symbol != "@" and (ta is np.ndarray or ta in _SCALARS) and (tb is np.ndarray or tb in _SCALARS):
        # the common case, checked cheaply: arrays (not indices) of one shape, or with a
        # number, build nothing larger than what they are
        shape_a, shape_b = getattr(a, "shape", ()), getattr(b, "shape", ())
        if shape_a == shape_b or not shape_a or not shape_b:
            return _UFUNCS[symbol](a, b)
    elif (symbol == "@" and ta is np.ndarray and tb is np.ndarray and a.ndim == 2 == b.ndim
          and a.shape[1] == b.shape[0]):
        # a matrix product no larger than a factor needs no size check
        if a.shape[0] * b.shape[1] > max(a.size, b.size):
            check_size((a.shape[0], b.shape[1]), "matmul result")
        return np.matmul(a, b)
    if _is_index(a) or _is_index(b):
        # an index (a constant of kind index) takes part in integer arithmetic only: used as
        # a number it would be cast silently (a label is a position, not a value)
        if symbol in "+-*" and all(_is_index(v) or type(v) is int for v in (a, b)):
            return _UFUNCS[symbol](a, b)
        raise EvalError(f"an index (integers) cannot be used as a number in '{symbol}': index with it, "
                        "or give the constant another kind")
    sa: tuple[int, ...] = getattr(a, "shape", ())
    sb: tuple[int, ...] = getattr(b, "shape", ())
    if symbol == "@":
        if len(sa) == 0 or len(sb) == 0:
            raise EvalError(f"matmul needs arrays, not scalars: {shape_str(sa)} @ {shape_str(sb)}")
        if len(sa) >= 2 and len(sb) >= 2 and sa[-1] == sb[-2]:
            try:  # stacks of matrices (format 6) multiply matrix by matrix, the stacks broadcast
                stack = np.broadcast_shapes(sa[:-2], sb[:-2])
            except ValueError:
                raise EvalError(f"matmul shape mismatch {shape_str(sa)} @ {shape_str(sb)}") from None
            check_size((*stack, sa[-2], sb[-1]), "matmul result")
    elif sa != sb and sa and sb:  # broadcasting may build a larger array: check its size
        try:
            check_size(np.broadcast_shapes(sa, sb), f"'{symbol}' result")
        except ValueError:
            raise EvalError(f"{name} shape mismatch {shape_str(sa)} {symbol} {shape_str(sb)}") from None
    try:
        return _UFUNCS[symbol](a, b)
    except ValueError:
        raise EvalError(f"{name} shape mismatch {shape_str(sa)} {symbol} {shape_str(sb)}") from None


_SCALARS = frozenset({int, float, complex, np.float64, np.complex128, np.int64})
_UFUNCS: dict[str, Callable[[Any, Any], Any]] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power, "@": np.matmul,
}
_INT_OPS: dict[str, Callable[[int, int], int]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "@": operator.mul,
}

_FAULTS = (EvalError, ValueError, TypeError, ZeroDivisionError, OverflowError, MemoryError,
           np.linalg.LinAlgError)


def _transposed(value: Value, conjugate: bool) -> Value:
    return np.conj(transposed(value)) if conjugate else transposed(value)


class Compiler:
    """Turns a checked tree into nested closures; an `observer` sees every node's value.

    What each node does to its values is one of the operations set in `__init__` (a
    subclass gives them other meanings: gradcheck.batch's, to stacked values); a node's
    closure holds its operation, so evaluating looks up no attributes."""

    fuse_traces = True  # tr(A @ B) without the product (see `_trace_of_product`)

    def __init__(self, text: str, observer: Observer | None = None,
                 call_hook: tuple[frozenset[str], Callable[[str, str, list[Value]], None]] | None = None) -> None:
        self.text = text
        self.observer = observer
        self.call_hook = call_hook
        self.complex_step = False  # inside d(...): the complex-step variants of abs, max, ...
        self.take: Callable[[Value, list[Any]], Value] = take
        self.position: Callable[[Value], Any] = index_position
        self.end: Callable[[Value], Any] = slice_end
        self.transpose: Callable[[Value, bool], Value] = _transposed
        self.negate: Callable[[Value], Value] = negate
        self.binary: Callable[[str, str, Value, Value], Value] = binary
        self.compare: Callable[[Callable[[Any, Any], Any], Value, Value, bool], Value] = compare

    def segment(self, node: ast.AST) -> str:
        return _short(ast.get_source_segment(self.text, node) or ast.unparse(node))

    def node(self, node: ast.AST) -> Node:
        fn: Node = getattr(self, f"_{type(node).__name__}")(node)
        if self.observer is None:
            return fn
        return self._observed(fn, node, self.observer)

    def _observed(self, fn: Node, node: ast.AST, observer: Observer) -> Node:
        where = self.segment(node)

        def observed(env: Env) -> Value:
            value = fn(env)
            observer(value, where)
            return value

        return observed

    def _guard(self, fn: Node, node: ast.AST) -> Node:
        # The source segment is found only on a fault: finding it for every node of
        # every expression was a third of the time to load the catalogue.
        def guarded(env: Env) -> Value:
            try:
                return fn(env)
            except _FAULTS as exc:
                message = str(exc) or type(exc).__name__
                if isinstance(exc, MemoryError):  # the process's budget, not the machine's
                    message = f"out of memory ({message}; --max-memory raises the budget)"
                raise EvaluationError(f"{message} in '{self.segment(node)}'") from None

        return guarded

    def _Constant(self, node: ast.Constant) -> Node:
        value = node.value
        return lambda env: value

    def _Name(self, node: ast.Name) -> Node:
        name = node.id
        if name in CONSTANTS:
            value = CONSTANTS[name]
            return lambda env: env.get(name, value)
        return lambda env: env[name]

    def _Subscript(self, node: ast.Subscript) -> Node:
        value, take_ = self.node(node.value), self.take
        index = node.slice
        parts = [self._index_part(p) for p in (index.elts if isinstance(index, ast.Tuple) else [index])]
        return self._guard(lambda env: take_(value(env), [p(env) for p in parts]), node)

    def _index_part(self, node: ast.AST) -> Callable[[Env], int | np.ndarray | slice]:
        position_of, end_of = self.position, self.end
        if not isinstance(node, ast.Slice):
            position = self.node(node)
            return lambda env: position_of(position(env))
        ends = [self.node(e) if e is not None else None for e in (node.lower, node.upper, node.step)]
        return lambda env: slice(*(None if e is None else end_of(e(env)) for e in ends))

    def _Attribute(self, node: ast.Attribute) -> Node:
        inner, transpose = self.node(node.value), self.transpose
        if node.attr == "H":
            return self._guard(lambda env: transpose(inner(env), True), node)
        return self._guard(lambda env: transpose(inner(env), False), node)

    def _UnaryOp(self, node: ast.UnaryOp) -> Node:
        inner, negative = self.node(node.operand), self.negate
        if isinstance(node.op, ast.USub):
            return self._guard(lambda env: negative(inner(env)), node)
        return inner

    def _BinOp(self, node: ast.BinOp) -> Node:
        symbol, name = BINOPS[type(node.op)]
        left, right, apply = self.node(node.left), self.node(node.right), self.binary
        return self._guard(lambda env: apply(symbol, name, left(env), right(env)), node)

    def _Compare(self, node: ast.Compare) -> Node:
        op, order = COMPARISONS[type(node.ops[0])], self.compare
        left, right = self.node(node.left), self.node(node.comparators[0])
        return self._guard(lambda env: order(op, left(env), right(env), COMPLEX_VALUES in env), node)

    def _Call(self, node: ast.Call) -> Node:
        assert isinstance(node.func, ast.Name)
        if node.func.id == DIFFERENTIAL and DIFFERENTIAL not in FUNCTIONS:
            return self._guard(self._differential(node.args[0]), node)
        name = node.func.id
        product = node.args[0] if len(node.args) == 1 else None
        if (name in ("trace", "tr") and self.fuse_traces and self.observer is None and isinstance(product, ast.BinOp)
                and isinstance(product.op, ast.MatMult)):
            return self._guard(self._trace_of_product(product), node)
        if name == SPECTRAL:  # funm(X, f): f is a function's name, passed as the function
            matrix, scalar = self.node(node.args[0]), FUNCTIONS[called_name_arg(node)].fn
            return self._guard(lambda env: FUNCTIONS[SPECTRAL].fn(matrix(env), scalar), node)
        fn = COMPLEX_STEP.get(name, FUNCTIONS[name].fn) if self.complex_step else FUNCTIONS[name].fn
        # where values are complex numbers (format 6), a function's own complex meaning
        complex_form = None if self.complex_step else FUNCTIONS[name].complex_form
        args = [self.node(a) for a in node.args]
        kwargs = {kw.arg: integer_literal(kw.value) for kw in node.keywords if kw.arg}

        def call(env: Env, values: list[Value]) -> Value:
            chosen = complex_form if complex_form is not None and COMPLEX_VALUES in env else fn
            return chosen(*values, **kwargs)

        if self.call_hook is not None and name in self.call_hook[0]:
            hook, where = self.call_hook[1], self.segment(node.args[0])

            def watched(env: Env) -> Value:
                values = [a(env) for a in args]
                hook(name, where, values)
                return call(env, values)

            return self._guard(watched, node)
        if complex_form is not None:
            return self._guard(lambda env: call(env, [a(env) for a in args]), node)
        return self._guard(lambda env: fn(*(a(env) for a in args), **kwargs), node)

    def _trace_of_product(self, product: ast.BinOp) -> Node:
        """tr(A @ B) as the sum of A * B^T: n^2 work, not the n^3 of the product (tr(X^-1 dX)
        at each direction of a large X). Anything but two matrices whose product is square
        (a stack, an index, shapes that do not fit) goes the long way, which reports it."""
        left, right, whole = self.node(product.left), self.node(product.right), self.node(product)
        trace = FUNCTIONS["trace"].fn

        def traced(env: Env) -> Value:
            a, b = left(env), right(env)
            if (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 == b.ndim
                    and a.shape == b.shape[::-1] and a.dtype.kind in "fc" and b.dtype.kind in "fc"):
                if a.shape[0] ** 2 > max(a.size, b.size):  # the product's limit, as if it were made
                    check_size((a.shape[0], a.shape[0]), "matmul result")
                return np.asarray(np.einsum("ij,ji->", a, b))
            return trace(whole(env))

        return traced

    def _differential(self, node: ast.AST) -> Node:
        """d(E) along the directions in the environment: Im E(X + ih dX) / h, with the lets
        that E reads recomputed at the moved inputs. E is complex-analytic, or made of the
        complex-step variants of abs, max, ... (checked), so this is the exact differential
        to rounding: no real step, no truncation error."""
        outer, self.complex_step = self.complex_step, True
        inner = self.node(node)
        self.complex_step = outer
        where = self.segment(node)
        reads = frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))

        def differential(env: Env) -> Value:
            if FRAME not in env:
                raise EvaluationError(f"d({where}) has no point to differentiate at")
            inputs, lets = env[FRAME]
            moving = {n: np.asarray(env[f"d{n}"]) for n in inputs if f"d{n}" in env}
            h = _CS_STEP * min((max(1.0, float(np.max(np.abs(env[n]), initial=0.0))) / float(np.max(np.abs(v)))
                                for n, v in moving.items() if np.any(v)), default=1.0)
            moved: dict[str, Value] = {**env, **{n: env[n] + 1j * h * v for n, v in moving.items()}}
            for name, expr in _read_lets(lets, reads):
                moved[name] = _complex_step_form(expr, name)(moved)
            return np.imag(inner(moved)) / h

        return differential


SPECTRAL = "funm"  # funm(X, f): f applied to the eigenvalues of a symmetric X (format 6)
SPECTRAL_FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "softplus", "abs")


class _PartNamer(ast.NodeTransformer):
    """Replaces each largest part of a tree that `name_of` gives a name with a read of that
    name, outside d(...) (where every input moves); `named` collects the names."""

    def __init__(self) -> None:
        self.named: set[str] = set()

    def name_of(self, node: ast.expr) -> str | None:
        raise NotImplementedError

    def visit(self, node: ast.AST) -> ast.AST:
        name = self.name_of(node) if isinstance(node, ast.expr) else None
        if name is not None:
            self.named.add(name)
            return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)
        if isinstance(node, ast.Call):
            if _called_name(node) == DIFFERENTIAL:
                return node
            node.args = [cast(ast.expr, self.visit(a)) for a in node.args]  # keywords: literals, read as they are
            return node
        return self.generic_visit(node)


class _Hoister(_PartNamer):
    """Names each largest part of a tree that does not read `moving` by its text in <>,
    which no file can write (see `Expr.hoisted`); the parts become expressions of their
    own text, in `parts`."""

    def __init__(self, text: str, variables: frozenset[str], moving: frozenset[str]) -> None:
        super().__init__()
        self.text = text
        self.variables = variables
        self.moving = moving
        self.parts: list[tuple[str, Expr]] = []

    def read(self, node: ast.AST) -> set[str]:
        """The variables `node` reads."""
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & self.variables

    def still(self, node: ast.AST) -> bool:
        """Whether `node` computes something that does not change with `moving`."""
        if not isinstance(node, (ast.Call, ast.BinOp, ast.UnaryOp, ast.Attribute, ast.Subscript, ast.Compare)):
            return False
        names = self.read(node)
        calls = {_called_name(n) for n in ast.walk(node) if isinstance(n, ast.Call)}
        return bool(names) and not names & self.moving and DIFFERENTIAL not in calls

    def name_of(self, node: ast.expr) -> str | None:
        if not self.still(node) or _light(node):
            return None
        segment = ast.get_source_segment(self.text, node) or ast.unparse(node)
        part = parse(segment if "\n" not in segment else f"({segment})", self.read(node))
        # named by its text: at one point a text has one value, whichever claim holds it
        name = f"<{part.source}>"
        self.parts.append((name, part))
        return name


def _light(node: ast.AST) -> bool:
    """Whether `node` only negates, scales or transposes a variable (-Xi, 2 * Xi, Xi.T):
    evaluated again along each direction it costs one pass over the variable, while
    held as a part of its own at a point it would take as much memory as the variable."""
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.operand, ast.Name)
    if isinstance(node, ast.Attribute):
        return isinstance(node.value, ast.Name)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        return {type(node.left), type(node.right)} == {ast.Name, ast.Constant}
    return False


class _Reuser(_PartNamer):
    """Names each largest part of a tree whose printed text is a key of `texts` by the
    name it maps to (see `Expr.reusing`)."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        super().__init__()
        self.texts = texts

    def name_of(self, node: ast.expr) -> str | None:
        return None if isinstance(node, (ast.Name, ast.Constant)) else self.texts.get(ast.unparse(node))


def printed(expr: Expr) -> str | None:
    """The text of `expr` as `Expr.reusing` compares parts (None: a Python function's)."""
    return None if expr.tree is None else ast.unparse(expr.tree.body)


def _called_name(node: ast.Call) -> str:
    return node.func.id if isinstance(node.func, ast.Name) else ""


def called_name_arg(node: ast.Call) -> str:
    f = node.args[1]
    assert isinstance(f, ast.Name)  # checked by the checker
    return f.id


def _read_lets(lets: Sequence[tuple[str, Expr]], reads: frozenset[str]) -> list[tuple[str, Expr]]:
    """The lets that an expression reading `reads` depends on, in their order."""
    needed, chosen = set(reads), []
    for name, expr in reversed(lets):
        if name in needed:
            chosen.append((name, expr))
            needed |= expr.names
    return chosen[::-1]


def _complex_step_form(expr: Expr, name: str) -> Node:
    """A let compiled for d(...): the complex-step variants of abs, max, ...; a let that
    uses any other non-analytic function cannot be moved by a complex step. Compiled once
    per expression, kept with it (d(...) is evaluated at every direction of every point)."""
    blocked = expr.nonanalytic - COMPLEX_STEP.keys() - {"comparison"}
    if blocked or expr.tree is None:
        what = sorted(blocked)[0] if blocked else "a Python function"
        raise EvaluationError(f"d(...) reads let '{name}', which uses '{what}' (not complex-analytic): "
                              "write this differential out with dX")
    known: Node | None = expr.__dict__.get("_complex_step_form")
    if known is None:
        compiler = Compiler(expr.source)
        compiler.complex_step = True
        known = expr.__dict__["_complex_step_form"] = compiler.node(expr.tree.body)
    return known


def compare(op: Callable[[Any, Any], Any], a: Value, b: Value, complex_values: bool = False) -> Value:
    """A comparison of real parts (of a complex step), its broadcast shape checked against
    the limit first; where values are complex numbers themselves, refused."""
    if complex_values and (np.iscomplexobj(a) or np.iscomplexobj(b)):
        raise EvalError("a comparison orders numbers, and complex numbers have no order: "
                        "take real(...) or abs(...) first")
    x, y = np.real(a), np.real(b)
    check_size(np.broadcast_shapes(np.shape(x), np.shape(y)), "comparison")
    return op(x, y)


def index_position(value: Value) -> int | np.ndarray:
    """An index position: an integer (a literal, a dimension, a constant of kind index,
    integer arithmetic on them), or a vector of them (one entry taken per integer)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu" and (
            value.ndim == 1 or (value.ndim == 2 and 1 in value.shape)):
        return np.asarray(value.reshape(-1))
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        shown = value if isinstance(value, (int, float)) else f"an array of shape {shape_str(np.shape(value))}"
        raise EvalError(f"an index must be an integer, got {shown}")
    return int(value)


def slice_end(value: Value) -> int:
    """A slice's end: a single integer."""
    position = index_position(value)
    if isinstance(position, np.ndarray):
        if position.size != 1:
            raise EvalError(f"a slice's ends must be single integers, got {position.size} of them")
        return int(position[0])
    return position


def take(value: Value, index: list[int | np.ndarray | slice]) -> Value:
    """`value[index]` with NumPy meaning (positions from 0, negative from the end), but an
    index out of range or a slice with no entries is an error, not a wrap or an empty array."""
    if not isinstance(value, np.ndarray):
        raise EvalError("a number cannot be indexed")
    check_index(value.shape, index)
    return value[tuple(index)]


def check_index(shape: tuple[int, ...], index: list[int | np.ndarray | slice]) -> None:
    """Refuse `index` for a value of `shape` where `take` would (see there)."""
    if not shape:
        raise EvalError("a number cannot be indexed")
    if len(index) > len(shape):
        raise EvalError(f"{len(index)} indices for a value of shape {shape_str(shape)}")
    vectors = [p for p in index if isinstance(p, np.ndarray)]
    if len({v.size for v in vectors}) > 1:
        sizes = " and ".join(str(v.size) for v in vectors)
        raise EvalError(f"vectors of indices are paired entry by entry and must have one length, got {sizes}")
    for axis, (position, size) in enumerate(zip(index, shape)):
        if isinstance(position, int) and not -size <= position < size:
            raise EvalError(f"index {position} is out of range for axis {axis} of size {size}")
        if isinstance(position, np.ndarray) and position.size and not (
                -size <= position.min() and position.max() < size):
            worst = int(position.max()) if position.max() >= size else int(position.min())
            raise EvalError(f"index {worst} is out of range for axis {axis} of size {size}")
        if isinstance(position, slice):
            if position.step == 0:
                raise EvalError("a slice step cannot be zero")
            if not range(size)[position]:
                raise EvalError(f"slice {_slice_text(position)} has no entries on axis {axis} of size {size}")


def _slice_text(s: slice) -> str:
    text = f"{'' if s.start is None else s.start}:{'' if s.stop is None else s.stop}"
    return text + (f":{s.step}" if s.step is not None else "")


def _is_index(value: Value) -> bool:
    return is_labels(value)


def negate(value: Value) -> Value:
    if isinstance(value, np.ndarray) and value.dtype == bool:
        raise EvalError("cannot negate a comparison (true/false values): use where")
    return -value


def _nonfinite_word(value: Value) -> str:
    a = np.asarray(value)
    if np.any(np.isnan(a)):
        return "NaN"
    return "infinite"
