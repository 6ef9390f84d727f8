"""Rendered math out: an expression of the language printed as LaTeX, the usual way
(X^{-1}, X^\\top, \\operatorname{tr}, \\circ, \\otimes), for the catalogue page and verify.

The printer reads the expression's checked syntax tree; it never evaluates anything.
Without shapes, `*` is printed as the Hadamard product \\circ unless a side is a number
or a scalar by construction (a trace, a determinant, a norm, a sum), where it is
juxtaposition.
"""

from __future__ import annotations

import ast
from collections.abc import Collection

from gradcheck.catalogue import Identity
from gradcheck.expr import Expr

GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "kappa", "lambda", "mu", "nu", "xi", "rho",
         "sigma", "tau", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Sigma", "Phi", "Psi",
         "Omega"}
# functions with a LaTeX operator of their own; the rest print as \operatorname{name}
OPERATORS = {"exp": "\\exp", "log": "\\log", "sin": "\\sin", "cos": "\\cos", "tanh": "\\tanh", "det": "\\det",
             "sigmoid": "\\sigma", "trace": "\\operatorname{tr}", "tr": "\\operatorname{tr}",
             "real": "\\operatorname{Re}", "imag": "\\operatorname{Im}"}
SCALAR_CALLS = {"trace", "tr", "det", "logdet", "norm", "sum", "logsumexp", "mean"}

# binding strength: higher binds tighter
_ADD, _MUL, _UNARY, _POW, _ATOM = 1, 2, 3, 4, 5
# functions of one argument with a notation of their own: the template, how tightly the
# result binds, and whether the argument is a base (parenthesised unless an atom)
ONE_ARGUMENT = {
    "inv": ("{}^{{-1}}", _POW, True), "transpose": ("{}^\\top", _POW, True),
    "logdet": ("\\ln\\left|{}\\right|", _ATOM, False), "det": ("\\left|{}\\right|", _ATOM, False),
    "norm": ("\\left\\|{}\\right\\|", _ATOM, False), "sqrt": ("\\sqrt{{{}}}", _ATOM, False),
    "eye": ("I_{{{}}}", _ATOM, False), "conj": ("\\overline{{{}}}", _ATOM, False),
}


def to_latex(expr: Expr, scalars: Collection[str] = ()) -> str:
    """`expr` as LaTeX (its own LaTeX, when it was written in LaTeX). `scalars`: names
    known to be scalars (dimensions, 1 x 1 inputs), which scale rather than \\circ."""
    if expr.tex:
        return expr.tex
    if expr.tree is None:
        return f"\\texttt{{{expr.source}}}"
    return _Printer(frozenset(scalars)).show(expr.tree.body)[0]


class _Printer:
    def __init__(self, scalars: frozenset[str]) -> None:
        self.scalars = scalars

    def show(self, node: ast.AST) -> tuple[str, int]:
        """The LaTeX of `node` and how tightly it binds."""
        method = getattr(self, f"show_{type(node).__name__}", None)
        if method is None:
            return f"\\texttt{{{ast.unparse(node)}}}", _ATOM
        result: tuple[str, int] = method(node)
        return result

    def operand(self, node: ast.AST, at_least: int) -> str:
        text, strength = self.show(node)
        return text if strength >= at_least else f"\\left({text}\\right)"

    def show_Constant(self, node: ast.Constant) -> tuple[str, int]:
        value = node.value
        if isinstance(value, complex):  # 2j is 2i
            imaginary = value.imag
            return (f"{int(imaginary) if imaginary.is_integer() else imaginary}i" if imaginary != 1 else "i"), _ATOM
        text = repr(value) if not isinstance(value, float) or not value.is_integer() else str(int(value))
        return text, _ATOM

    def show_Name(self, node: ast.Name) -> tuple[str, int]:
        return symbol(node.id), _ATOM

    def show_Attribute(self, node: ast.Attribute) -> tuple[str, int]:  # .T, and .H (format 6)
        mark = "\\mathsf{H}" if node.attr == "H" else "\\top"
        if isinstance(node.value, ast.Call) and _called(node.value) == "inv":
            return f"{self.operand(node.value.args[0], _ATOM)}^{{-{mark}}}", _POW
        return f"{self.operand(node.value, _ATOM)}^{{{mark}}}" if node.attr == "H" else \
            f"{self.operand(node.value, _ATOM)}^{mark}", _POW

    def show_UnaryOp(self, node: ast.UnaryOp) -> tuple[str, int]:
        sign = "-" if isinstance(node.op, ast.USub) else "+"
        return f"{sign}{self.operand(node.operand, _MUL)}", _UNARY

    def show_BinOp(self, node: ast.BinOp) -> tuple[str, int]:
        op = node.op
        if isinstance(op, (ast.Add, ast.Sub)):
            right = self.operand(node.right, _MUL if isinstance(op, ast.Sub) else _ADD)
            return f"{self.operand(node.left, _ADD)} {'+' if isinstance(op, ast.Add) else '-'} {right}", _ADD
        if isinstance(op, ast.Div):
            return f"\\frac{{{self.show(node.left)[0]}}}{{{self.show(node.right)[0]}}}", _ATOM
        if isinstance(op, ast.Pow):
            return f"{self.operand(node.left, _ATOM)}^{{{self.show(node.right)[0]}}}", _POW
        if isinstance(op, ast.MatMult):
            return f"{self.operand(node.left, _MUL)} {self.operand(node.right, _UNARY)}", _MUL
        if isinstance(op, ast.Mult):
            if _scalar(node.left, self.scalars) or _scalar(node.right, self.scalars):
                return f"{self.operand(node.left, _MUL)} {self.operand(node.right, _UNARY)}", _MUL
            return f"{self.operand(node.left, _MUL)} \\circ {self.operand(node.right, _UNARY)}", _MUL
        return f"\\texttt{{{ast.unparse(node)}}}", _ATOM

    def show_Compare(self, node: ast.Compare) -> tuple[str, int]:
        symbols = {ast.Lt: "<", ast.LtE: "\\le", ast.Gt: ">", ast.GtE: "\\ge", ast.Eq: "=", ast.NotEq: "\\ne"}
        op = symbols.get(type(node.ops[0]), "?")
        return f"[{self.show(node.left)[0]} {op} {self.show(node.comparators[0])[0]}]", _ATOM

    def show_Subscript(self, node: ast.Subscript) -> tuple[str, int]:
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        index = ",".join(ast.unparse(p).replace(" ", "") for p in parts)
        return f"{self.operand(node.value, _ATOM)}_{{[{index}]}}", _POW

    def show_Call(self, node: ast.Call) -> tuple[str, int]:
        name = _called(node)
        args = [self.show(a)[0] for a in node.args]
        axis = next((ast.unparse(k.value) for k in node.keywords if k.arg == "axis"), None)
        if len(args) == 1 and name in ONE_ARGUMENT:
            template, strength, tight = ONE_ARGUMENT[name]
            inner = self.operand(node.args[0], _ATOM) if tight else args[0]
            return template.format(inner), strength
        if name == "d" and len(args) == 1:  # the differential of an expression
            if isinstance(node.args[0], ast.Name):
                return f"d{args[0]}", _ATOM  # as a direction dX prints
            return f"d\\left({args[0]}\\right)", _ATOM
        if name == "funm" and len(node.args) == 2 and isinstance(node.args[1], ast.Name):  # a function's name
            scalar = node.args[1].id
            head = OPERATORS.get(scalar, "\\operatorname{" + _escape(scalar) + "}")
            return "\\operatorname{funm}\\left(" + args[0] + ", " + head + "\\right)", _ATOM
        if name == "norm" and len(args) == 2:
            return f"\\left\\|{args[0]}\\right\\|_{{{args[1]}}}", _ATOM
        if name == "sqrt" and len(args) == 1:
            return f"\\sqrt{{{args[0]}}}", _ATOM
        if name == "kron" and len(args) == 2:
            return f"{self.operand(node.args[0], _MUL)} \\otimes {self.operand(node.args[1], _UNARY)}", _MUL
        if name == "solve" and len(args) == 2:
            return f"{self.operand(node.args[0], _ATOM)}^{{-1}} {self.operand(node.args[1], _UNARY)}", _MUL
        if name == "matrix_power" and len(args) == 2:
            return f"{self.operand(node.args[0], _ATOM)}^{{{args[1]}}}", _POW
        if name == "sum" and axis is None and len(args) == 1:
            return f"\\sum {self.operand(node.args[0], _ATOM)}", _UNARY
        head = OPERATORS.get(name, f"\\operatorname{{{_escape(name)}}}")
        inner = ", ".join(args + ([f"\\text{{axis}}={axis}"] if axis is not None else []))
        return f"{head}\\left({inner}\\right)", _ATOM


def scalar_names(identity: Identity) -> frozenset[str]:
    """The names of an identity that are scalars: dimensions, and inputs and constants of one entry."""
    return frozenset({*identity.dims, *(v.name for v in (*identity.inputs, *identity.constants)
                                        if all(d == 1 for d in v.shape))})


def _called(node: ast.Call) -> str:
    return node.func.id if isinstance(node.func, ast.Name) else ""


def _scalar(node: ast.AST, scalars: frozenset[str]) -> bool:
    """A number, a name known to be a scalar, or a value that is a scalar whatever its
    arguments (a trace, a norm); or arithmetic of them."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in scalars
    if isinstance(node, ast.UnaryOp):
        return _scalar(node.operand, scalars)
    if isinstance(node, ast.BinOp):
        return _scalar(node.left, scalars) and (_scalar(node.right, scalars) or isinstance(node.op, ast.Pow))
    return isinstance(node, ast.Call) and _called(node) in SCALAR_CALLS and not node.keywords


def symbol(name: str) -> str:
    """A name as math: W1 -> W_{1}, lambda -> \\lambda, dX -> dX, x_i -> x_{i}."""
    base, _, sub = name.partition("_")
    if not sub:
        head = len(base.rstrip("0123456789"))
        base, sub = base[:head], base[head:]
    if base in GREEK:
        text = f"\\{base}"
    elif len(base) > 1 and not (base.startswith("d") and len(base) == 2):  # Xi, not X times i; dX stays
        text = f"\\mathit{{{_escape(base)}}}"
    else:
        text = base
    return f"{text}_{{{_escape(sub)}}}" if sub else text


def _escape(text: str) -> str:
    return text.replace("_", "\\_")
