"""LaTeX in: matrix calculus as papers write it, translated into the expression language.

``\\mathrm{tr}(X^{-1}dX)`` becomes ``trace(inv(X) @ dX)``, which is then parsed like any
other expression (gradcheck.expr): the allow-list and every limit apply unchanged, since
nothing here evaluates anything. The grammar (Lark, Earley) covers what the Matrix
Cookbook, the source note and ML papers use; docs/format.md lists it.

What LaTeX leaves open is settled by the shapes the identity declares: juxtaposition is
the matrix product, or scaling when one side is a scalar; |X| is the determinant of a
square matrix and the absolute value of a scalar; X^2 is a matrix power or a square;
\\mathbf{I} and \\mathbf{1} take their size from what they meet. What shapes cannot
settle is a `TexError` that says how to write it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

Dim = str | int
# Limits on what is parsed (a file may be hostile): length and nesting.
MAX_TEX = 2_000
MAX_DEPTH = 48
MAX_BARS = 16  # bars open at once
Shape = tuple[Dim, ...] | None  # None: not known (a let written in Python)


class TexError(Exception):
    """Unsupported or ambiguous LaTeX: the message, the column (1-based) and the fragment."""

    def __init__(self, message: str, column: int | None = None, fragment: str = "") -> None:
        self.message, self.column, self.fragment = message, column, fragment
        super().__init__(message)

    def __str__(self) -> str:
        where = f" at column {self.column}" if self.column else ""
        return f"{self.message}{where}" + (f" ('{self.fragment}')" if self.fragment else "")


GRAMMAR = r"""
?start: sum
?sum: sum "+" term                 -> add
    | sum "-" term                 -> sub
    | term
?term: product
    | "\\sum" ("_" subscript)? product -> total
?product: product HADAMARD signed  -> hadamard
    | product "\\otimes" signed    -> kron
    | product TIMES signed         -> times
    | product "/" signed           -> divide
    | product post                 -> juxt
    | signed
?signed: "-" signed                -> neg
    | "+" signed
    | post
?post: post "^" script             -> sup
    | post "_" subscript           -> sub_script
    | primary
?primary: atom
    | FUNC paren                   -> apply
    | FUNC "'" paren               -> apply_prime
    | FUNC loose                   -> apply
    | DIFF symbol ("_" subscript)?  -> differential
    | DIFF "(" symbol ("_" subscript)? ")" -> differential
    | DIFF paren                   -> differential_of
    | DIFF det                     -> differential_of
    | DIFF normpow                 -> differential_of
?normpow: norm | normpow "^" script -> sup | normpow "_" subscript -> sub_script
?loose: loose "^" script           -> sup
    | loose "_" subscript          -> sub_script
    | bare
?bare: symbol | number | det | norm | frac | sqrt | special
    | FUNC paren                   -> apply
?atom: bare | paren | brace
paren: "(" sum ")" | "\\left(" sum "\\right)" | "[" sum "]" | "\\left[" sum "\\right]"
     | "\\bigl(" sum "\\bigr)" | "\\Bigl(" sum "\\Bigr)"
brace: "{" sum "}"
det: BAR_OPEN sum BAR_CLOSE | "\\left|" sum "\\right|" | "\\lvert" sum "\\rvert"
norm: NORM sum NORM_END
frac: FRAC brace brace
sqrt: "\\sqrt" brace
special.2: BOLD "{" SPECIAL_LETTER "}"
symbol: LETTER | BOLD "{" LETTER "}" | GREEK
number: NUMBER
?script: SCRIPT_T | "{" SCRIPT_T "}" | "{" "-" "1" "}" -> inverse | "{" "-" SCRIPT_T "}" -> inverse_transpose
    | DIGIT -> power | "{" signed_number "}" -> power | "{" FRAC brace brace "}" -> power_frac
    | "{" signed_number "/" NUMBER "}" -> power_ratio
    | FRAC brace brace -> power_frac
signed_number: "-"? NUMBER
subscript: LETTER | DIGIT | "{" SUBTEXT "}"
SUBTEXT: /[A-Za-z0-9, ]+/
SCRIPT_T: "T" | "\\top" | "\\intercal" | "H" | "*"
DIGIT: /[0-9]/
HADAMARD: "\\circ" | "\\odot"
TIMES: "\\cdot" | "\\times"
NORM: NORM_OPEN | "\\lVert" | "\\left\\|" | "\\left\\Vert"
NORM_END: NORM_CLOSE | "\\rVert" | "\\right\\|" | "\\right\\Vert"
BAR_OPEN: "\u27e6"
BAR_CLOSE: "\u27e7"
NORM_OPEN: "\u27ea"
NORM_CLOSE: "\u27eb"
FRAC: "\\frac" | "\\dfrac" | "\\tfrac"
BOLD: "\\mathbf" | "\\boldsymbol" | "\\bm" | "\\mathbfit"
SPECIAL_LETTER: "I" | "1" | "0"
DIFF.2: /d(?=\\mathbf|\\boldsymbol|\\bm|\\left[(|\\[]|\\lVert|\\lvert|\\bigl|\\Bigl|[A-Za-z(\[\u27e6\u27ea])/ | /\\mathrm\{d\}/ | /\\operatorname\{d\}/
FUNC: /\\(operatorname|mathrm|text|textrm|mathop)\{[A-Za-z]+\}/ | "\\det" | "\\ln" | "\\log" | "\\exp"
    | "\\sin" | "\\cos" | "\\tanh" | "\\sigma" | "\\operatorname*{tr}" | "\\tr" | "\\Tr"
GREEK: /\\(alpha|beta|gamma|delta|epsilon|varepsilon|eta|theta|kappa|lambda|mu|nu|xi|rho|tau|phi|varphi|chi|psi|omega|Lambda|Sigma|Theta|Phi|Psi|Omega|Gamma|Delta)(?![A-Za-z])/
LETTER: /[A-Za-z]/
NUMBER: /[0-9]+(\.[0-9]+)?/
SPACE: /\\[,;:! ]|\\quad|\\qquad|~|\\left\.|\\right\.|\\displaystyle/
%import common.WS
%ignore WS
%ignore SPACE
"""

# the functions LaTeX names, and what they are in the expression language
NAMED = {"tr": "trace", "Tr": "trace", "trace": "trace", "det": "det", "ln": "log", "log": "log", "exp": "exp",
         "sin": "sin", "cos": "cos", "tanh": "tanh", "sigma": "sigmoid", "vec": "vec", "diag": "diag",
         "adj": "adj", "softmax": "softmax", "sym": "sym", "logdet": "logdet", "relu": "relu",
         "softplus": "softplus", "abs": "abs", "sign": "sign", "sqrt": "sqrt", "logsumexp": "logsumexp",
         "vech": "vech", "expm": "expm", "logm": "logm", "sqrtm": "sqrtm", "chol": "chol", "sigmoid": "sigmoid",
         "step": "step"}
SCALAR_VALUED = {"trace", "det", "logdet", "logsumexp"}


@functools.cache
def _parser() -> Any:
    from lark import Lark

    return Lark(GRAMMAR, parser="earley", lexer="dynamic", propagate_positions=True, ambiguity="resolve")


@dataclass(frozen=True)
class Node:
    """A translated fragment: Python source (an atom or parenthesised), its shape, and
    for \\mathbf{I} and \\mathbf{1} before their size is known, which of them it is."""

    text: str
    shape: Shape
    pending: str = ""  # "eye", "ones" or "ones.T": a size still to take from a neighbour
    entry: bool = False  # an array indexed entry by entry inside a \sum (X_{ij})

    @property
    def scalar(self) -> bool:
        return self.shape is not None and all(d == 1 for d in self.shape)


def _wrap(text: str) -> str:
    return text if _atomic(text) else f"({text})"


def _atomic(text: str) -> bool:
    """Whether `text` needs no parentheses as an operand: no operator outside brackets."""
    depth = 0
    for ch in text:
        depth += ch in "(["
        depth -= ch in ")]"
        if depth == 0 and ch in " +-*/@":
            return False
    return True


def translate(tex: str, shapes: Mapping[str, Shape]) -> tuple[str, Shape]:
    """`tex` as an expression of the language, and its shape. `shapes` gives the shape of
    each name in scope (dimension names are scalars), the directions (dX) among them."""
    from lark.exceptions import UnexpectedInput

    if not tex.strip():
        raise TexError("empty LaTeX")
    if len(tex) > MAX_TEX:
        raise TexError(f"LaTeX of {len(tex):,} characters, over the limit of {MAX_TEX:,}")
    _check_balanced(tex)
    paired = _paired(tex)  # the same length: columns and fragments are read from `tex`
    try:
        tree = _parser().parse(paired)
    except RecursionError:
        raise TexError("LaTeX nested too deeply to read: split it with lets") from None
    except UnexpectedInput as exc:
        column = getattr(exc, "column", None)
        start = max(0, (column or 1) - 1)
        raise TexError("cannot read this LaTeX" + _supported_hint(tex[start:start + 12]), column,
                       tex[start:start + 12].strip()) from None
    try:
        node = _settled(_Translator(tex, shapes).node(tree), None)
    except RecursionError:  # a chain of thousands of products: a tree too deep to walk
        raise TexError("LaTeX nested too deeply to read: split it with lets") from None
    return node.text, node.shape


# Bare bars (|, \\|, \\vert, \\Vert) open and close alike; before parsing, each is paired
# (one placeholder for an opening bar, another for a closing one, padded to its length so
# that columns stay right): a bar closes the innermost open bar of its kind when it
# follows an operand, and opens one otherwise. |A||B| is det A det B, never |A |B| ...|.
_PLACEHOLDERS = {"|": ("\u27e6", "\u27e7"), "\\|": ("\u27ea", "\u27eb")}
_SPACING = ("\\,", "\\;", "\\:", "\\!", "\\ ", "\\quad", "\\qquad", "~")
# macros after which an operand has ended (a transpose, a Greek letter): any other macro
# (\\circ, \\ln, \\sum, ...) leaves the next bar opening
_OPERAND_MACROS = {"top", "intercal"} | {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "eta", "theta", "kappa", "lambda", "mu", "nu", "xi",
    "rho", "tau", "phi", "varphi", "chi", "psi", "omega", "Lambda", "Sigma", "Theta", "Phi", "Psi", "Omega", "Gamma",
    "Delta", "sigma"}


def _paired(tex: str) -> str:
    """`tex` with every bare bar replaced by an opening or a closing placeholder."""
    if any(c in tex for pair in _PLACEHOLDERS.values() for c in pair):
        raise TexError("unexpected character (one of ⟦ ⟧ ⟪ ⟫)")
    out: list[str] = []
    open_bars: list[str] = []
    i = 0
    while i < len(tex):
        kind, width = _bar_at(tex, i)
        if kind:
            closing = bool(open_bars) and open_bars[-1] == kind and _after_operand("".join(out))
            if closing:
                open_bars.pop()
            else:
                open_bars.append(kind)
                if len(open_bars) > MAX_BARS:
                    raise TexError(f"bars nested more than {MAX_BARS} deep", i + 1, tex[i: i + 12])
            out.append(_PLACEHOLDERS[kind][closing].ljust(width))
            i += width
            continue
        out.append(tex[i])
        i += 1
    return "".join(out)


def _bar_at(tex: str, i: int) -> tuple[str, int]:
    """("|" or "\\|", its length in the text) if a bare bar starts at i, else ("", 0)."""
    if tex.startswith(("\\left", "\\right"), i):
        return "", 0
    for text, kind in (("\\|", "\\|"), ("\\Vert", "\\|"), ("\\vert", "|")):
        whole = text == "\\|" or not tex[i + len(text): i + len(text) + 1].isalpha()  # \\vert, not \\vertical
        if tex.startswith(text, i) and whole and not _after_sizer(tex, i):
            return kind, len(text)
    if tex[i] == "|" and not _after_sizer(tex, i) and not (i and tex[i - 1] == "\\"):
        return "|", 1
    return "", 0


def _after_sizer(tex: str, i: int) -> bool:
    """Whether the bar at i belongs to \\left or \\right (already paired)."""
    return tex[:i].endswith(("\\left", "\\right"))


def _after_operand(before: str) -> bool:
    """Whether the text before a bar ends an operand (so that the bar closes)."""
    text = before.rstrip()
    while True:
        stripped = next((text[: -len(s)].rstrip() for s in _SPACING if text.endswith(s)), None)
        if stripped is None:
            break
        text = stripped
    if not text:
        return False
    last = text[-1]
    if last in ")]}'" or last in "\u27e7\u27eb" or last.isdigit():
        return True
    if last.isalpha():
        word = text.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        return not word.endswith("\\") or text[len(word):] in _OPERAND_MACROS
    return False


def _check_balanced(tex: str) -> None:
    """Every (, [ and { closed by its own kind, in order (a clearer error than the parser's),
    and nested at most MAX_DEPTH deep."""
    pairs = {")": "(", "]": "[", "}": "{"}
    opened: list[tuple[str, int]] = []
    escaped = False
    for i, ch in enumerate(tex):
        if escaped or ch == "\\":
            escaped = not escaped and ch == "\\"
            continue
        if ch in "([{":
            opened.append((ch, i))
            if len(opened) > MAX_DEPTH:
                raise TexError(f"brackets nested more than {MAX_DEPTH} deep", i + 1, tex[i: i + 12])
        elif ch in pairs:
            if not opened or opened[-1][0] != pairs[ch]:
                raise TexError(f"unbalanced '{ch}': nothing open to close", i + 1, tex[max(0, i - 10): i + 1])
            opened.pop()
    if opened:
        ch, i = opened[-1]
        raise TexError(f"unbalanced '{ch}': never closed", i + 1, tex[i: i + 12])


def _supported_hint(fragment: str) -> str:
    for wrong, right in (("\\left\\{", "braces for grouping: {...}"), ("\\mathcal", "a plain or bold letter"),
                         ("\\partial", "a differential dX, or write the derivative as a claim"),
                         ("\\int", "no integrals"), ("\\sum_", "\\sum_{i,j} X_{ij} (over all entries)")):
        if fragment.startswith(wrong):
            return f"; instead of {wrong} use {right}"
    return "; see docs/format.md for the LaTeX gradcheck reads"


def _settled(node: Node, size: Dim | None) -> Node:
    """A pending \\mathbf{I} or \\mathbf{1} given its size, or an error when it has none."""
    if not node.pending:
        return node
    if size is None:
        which = "\\mathbf{I}" if node.pending == "eye" else "\\mathbf{1}"
        raise TexError(f"cannot tell the size of {which} here: write {which}_n with its size n")
    if node.pending == "eye":
        return Node(f"eye({size})", (size, size))
    if node.pending == "ones":
        return Node(f"ones({size}, 1)", (size, 1))
    return Node(f"ones(1, {size})", (1, size))


def _product_dim(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    if a == 1 or b == 1:
        return b if a == 1 else a
    return f"{_wrap(str(a))} * {_wrap(str(b))}"


class _Translator:
    """Lark's tree to Nodes, bottom up (a small tree walker, not a Transformer, so that
    the context a symbol needs, such as being inside a \\sum, travels down)."""

    def __init__(self, tex: str, shapes: Mapping[str, Shape]) -> None:
        self.tex = tex
        self.shapes = shapes
        self.indices: tuple[str, ...] = ()  # the index letters of the enclosing \sum

    def fail(self, message: str, item: Any) -> TexError:
        meta = getattr(item, "meta", None)
        column = getattr(meta, "column", None) if meta is not None and not getattr(meta, "empty", True) else \
            getattr(item, "column", None)
        start, end = getattr(meta, "start_pos", None), getattr(meta, "end_pos", None)
        fragment = self.tex[start:end] if isinstance(start, int) and isinstance(end, int) else str(item)
        return TexError(message, column, fragment[:40])

    def node(self, item: Any) -> Node:
        from lark import Token

        if isinstance(item, Token):
            raise self.fail(f"unexpected '{item}'", item)
        method = getattr(self, f"rule_{item.data}", None)
        if method is None:
            raise self.fail(f"unsupported LaTeX construct ({item.data})", item)
        result: Node = method(item, *item.children)
        return result

    # -- atoms -------------------------------------------------------------------

    def rule_number(self, item: Any, token: Any) -> Node:
        return Node(str(token), ())

    def rule_symbol(self, item: Any, *tokens: Any) -> Node:
        letter = str(tokens[-1]).lstrip("\\")
        return self.bind([letter], item)

    def bind(self, candidates: list[str], item: Any) -> Node:
        for name in candidates:
            if name in self.shapes:
                return Node(name, self.shapes[name])
        known = ", ".join(sorted(n for n in self.shapes if not n.startswith("d") or n[1:] not in self.shapes))
        raise self.fail(f"'{candidates[0]}' is not an input, constant, let or dimension of this identity "
                        f"(known: {known})", item)

    def rule_special(self, item: Any, bold: Any, letter: Any) -> Node:
        if str(letter) == "I":
            return Node("", None, pending="eye")
        if str(letter) == "1":
            return Node("", None, pending="ones")
        return Node("0", ())

    def rule_paren(self, item: Any, inner: Any) -> Node:
        node = self.node(inner)
        return replace(node, text=node.text if node.pending else _wrap(node.text))

    rule_brace = rule_paren

    def rule_det(self, item: Any, *children: Any) -> Node:
        from lark import Tree

        node = self.node(next(c for c in children if isinstance(c, Tree)))
        shape = node.shape
        if shape is not None and len(shape) == 2 and shape[0] == shape[1] and shape[0] != 1:
            return Node(f"det({node.text})", ())
        if node.scalar or (shape is not None and len(shape) == 0):
            return Node(f"abs({node.text})", node.shape)
        what = "its shape is not known" if shape is None else f"it has shape {list(shape)}"
        raise self.fail(f"|...| is a determinant of a square matrix or the absolute value of a scalar, and {what}: "
                        "write \\det(...) or \\operatorname{abs}(...)", item)

    def rule_norm(self, item: Any, _open: Any, inner: Any, _close: Any, kind: str = "") -> Node:
        node = self.node(inner)
        if kind in ("", "F", "2") and (kind != "2" or self.is_vector(node)):
            return Node(f"norm({node.text})", ())
        if kind == "2":
            return Node(f"norm({node.text}, 2)", ())
        raise self.fail(f"unsupported norm subscript '{kind}': use \\|x\\|, \\|x\\|_2 or \\|X\\|_F", item)

    @staticmethod
    def is_vector(node: Node) -> bool:
        return node.shape is not None and (len(node.shape) == 1 or (len(node.shape) == 2 and 1 in node.shape))

    def rule_frac(self, item: Any, _frac: Any, top: Any, bottom: Any) -> Node:
        num, den = self.node(top), self.node(bottom)
        if den.shape is None or not (den.scalar or len(den.shape) == 0):
            raise self.fail("\\frac needs a scalar denominator: write a matrix's inverse as X^{-1}", item)
        return Node(f"{_wrap(num.text)} / {_wrap(den.text)}", num.shape)

    def rule_sqrt(self, item: Any, inner: Any) -> Node:
        node = self.node(inner)
        return Node(f"sqrt({_strip(node.text)})", node.shape)

    def rule_differential(self, item: Any, _d: Any, symbol: Any, sub: Any = None) -> Node:
        letter = str(symbol.children[-1]).lstrip("\\")
        text = self.subscript_text(sub).replace(",", "") if sub is not None else ""
        # dW_1 is the direction of W1 (or W_1); dX of X
        candidates = [f"{letter}{text}", f"{letter}_{text}"] if text else [letter]
        inner = self.bind(candidates, symbol)
        name = f"d{inner.text}"
        if name not in self.shapes and any(n[:1] == "d" and n[1:] in self.shapes for n in self.shapes):
            return Node(f"d({inner.text})", inner.shape)  # dy of a let y: d(y), which moves with the inputs
        if name not in self.shapes:
            moving = ", ".join(sorted(n for n in self.shapes if n[:1] == "d" and n[1:] in self.shapes)) or "none here"
            raise self.fail(f"{name} is not a direction of this claim (directions: {moving})", item)
        return Node(name, self.shapes[name])

    def lifted_differential(self, item: Any) -> Node | None:
        """d\\|x\\|_2^2 is d(\\|x\\|_2^2), as written on paper: the scripts of a norm after d
        belong inside the differential (d(...)^2 keeps its parentheses)."""
        from lark import Tree

        chain, node = [], item
        while getattr(node, "data", "") in ("sup", "sub_script"):
            chain.append(node)
            node = node.children[0]
        if getattr(node, "data", "") != "differential_of" or getattr(node.children[-1], "data", "") != "norm":
            return None
        inner = node.children[-1]
        for link in reversed(chain):
            inner = Tree(link.data, [inner, *link.children[1:]], link.meta)
        return self.rule_differential_of(item, node.children[0], inner)

    def rule_differential_of(self, item: Any, _d: Any, inner: Any) -> Node:
        """d(...) of an expression: d(X^{-1}), d|X|, d\\|Wx + b\\|^2 (format 5); d(X) is dX."""
        node = _settled(self.node(inner), None)
        text = _strip(node.text)
        if f"d{text}" in self.shapes and text in self.shapes:
            return Node(f"d{text}", self.shapes[f"d{text}"])
        if not any(n[:1] == "d" and n[1:] in self.shapes for n in self.shapes):
            if "d" in self.shapes:  # a scalar named d, times what follows
                return Node(f"d * {_wrap(node.text)}", node.shape)
            raise self.fail("d(...) is a differential: allowed only in a claim with directions "
                            "(a differential or a derivation)", item)
        return Node(f"d({text})", node.shape)

    # -- functions -----------------------------------------------------------------

    def rule_apply(self, item: Any, func: Any, argument: Any) -> Node:
        name = _function_name(str(func))
        if name not in NAMED:
            raise self.fail(f"unknown function '{name}': gradcheck reads {', '.join(sorted(NAMED))}", func)
        target = NAMED[name]
        arg = _settled(self.node(argument), None)
        if target == "log" and arg.text.startswith("det(") and _atomic(arg.text):
            return Node(f"logdet({arg.text[4:-1]})", ())
        shape: Shape = () if target in SCALAR_VALUED else arg.shape
        if target == "vec" and arg.shape is not None:
            shape = (functools.reduce(_product_dim, arg.shape), 1) if arg.shape else (1, 1)
        if target == "diag":
            shape = None
        return Node(f"{target}({_strip(arg.text)})", shape)

    def rule_apply_prime(self, item: Any, func: Any, argument: Any) -> Node:
        """sigma'(a): the sigmoid's derivative, sigma(a) (1 - sigma(a)) entry by entry."""
        if _function_name(str(func)) != "sigma":
            raise self.fail("a prime is read on \\sigma only: \\sigma'(x) = \\sigma(x)(1 - \\sigma(x))", func)
        arg = _settled(self.node(argument), None)
        inner = _strip(arg.text)
        return Node(f"(sigmoid({inner}) * (1 - sigmoid({inner})))", arg.shape)

    def rule_total(self, item: Any, *children: Any) -> Node:
        sub, body = (children[0], children[1]) if len(children) == 2 else (None, children[0])
        saved = self.indices
        self.indices = tuple(c for c in (self.subscript_text(sub) if sub is not None else "") if c.isalpha())
        try:
            node = self.node(body)
        finally:
            self.indices = saved
        return Node(f"sum({_strip(node.text)})", ())

    # -- scripts ---------------------------------------------------------------------

    def subscript_text(self, sub: Any) -> str:
        return "".join(str(t) for t in sub.children).replace(" ", "") if hasattr(sub, "children") else str(sub)

    def rule_sub_script(self, item: Any, base: Any, sub: Any) -> Node:
        lifted = self.lifted_differential(item)
        if lifted is not None:
            return lifted
        text = self.subscript_text(sub)
        if getattr(base, "data", "") == "special":
            size: Dim = int(text) if text.isdigit() else text
            if isinstance(size, str) and size not in self.shapes:
                raise self.fail(f"'{size}' is not a dimension of this identity", sub)
            return _settled(self.node(base), size)
        if self.indices and set(text.replace(",", "")) <= set(self.indices):  # (A B)_{ij} inside a \sum
            return replace(self.node(base), entry=True)
        if getattr(base, "data", "") == "differential" and len(base.children) == 2:  # dW_1: the direction of W1
            return self.rule_differential(base, base.children[0], base.children[1], sub)
        if getattr(base, "data", "") == "norm":  # \|x\|_2, \|X\|_F
            opening, inner, closing = base.children
            return self.rule_norm(base, opening, inner, closing, kind=text)
        if getattr(base, "data", "") != "symbol":
            raise self.fail(f"a subscript is read on a symbol, a norm or \\mathbf{{I}} only ({text})", item)
        letter = str(base.children[-1]).lstrip("\\")
        return self.bind([f"{letter}{text.replace(',', '')}", f"{letter}_{text.replace(',', '')}"], item)

    def rule_sup(self, item: Any, base: Any, script: Any) -> Node:
        lifted = self.lifted_differential(item)
        if lifted is not None:
            return lifted
        node = self.node(base)
        kind = getattr(script, "data", None)
        if kind is None:  # a transpose: T, \top, H (real matrices: the transpose) or *
            return self.transposed(node)
        if kind == "inverse":
            return self.inverse(node, item)
        if kind == "inverse_transpose":
            return Node(f"inv({node.text}).T", _reversed(node.shape))
        if kind == "power_ratio":
            sign = "-" if str(self.subscript_text(script.children[0])).startswith("-") else ""
            numbers = [str(t) for t in _tokens(script)]
            return self.power(node, f"{sign}{numbers[0]} / {numbers[-1]}", item)
        if kind == "power_frac":
            top, bottom = self.node(script.children[1]), self.node(script.children[2])
            return self.power(node, f"{_wrap(top.text)} / {_wrap(bottom.text)}", item)
        return self.power(node, "".join(str(t) for t in _tokens(script)), item)

    def transposed(self, node: Node) -> Node:
        if node.pending == "ones":
            return replace(node, pending="ones.T")
        if node.pending:
            return node
        return Node(f"{_wrap(node.text)}.T", _reversed(node.shape), entry=node.entry)

    def inverse(self, node: Node, item: Any) -> Node:
        if node.scalar or node.shape == () or node.entry:
            return Node(f"1 / {_wrap(node.text)}", node.shape, entry=node.entry)
        if node.shape is not None and (len(node.shape) != 2 or node.shape[0] != node.shape[1]):
            raise self.fail(f"the inverse of a {list(node.shape)} array: write X^{{-1}} for square X only", item)
        return Node(f"inv({_strip(node.text)})", node.shape)

    def power(self, node: Node, exponent: str, item: Any) -> Node:
        if node.scalar or node.shape == () or node.entry:
            return Node(f"{_wrap(node.text)} ** {_wrap(exponent)}", node.shape, entry=node.entry)
        square = node.shape is not None and len(node.shape) == 2 and node.shape[0] == node.shape[1]
        if not square:
            raise self.fail("a power of a non-square array: write x^\\top x for a vector's square norm, "
                            "or x \\circ x entry by entry", item)
        if exponent.lstrip("-").isdigit():
            return Node(f"matrix_power({node.text}, {exponent})", node.shape)
        return Node(f"powm({node.text}, {exponent})", node.shape)

    # -- operators -------------------------------------------------------------------

    def rule_neg(self, item: Any, inner: Any) -> Node:
        node = self.node(inner)
        return replace(node, text=f"-{_wrap(node.text)}") if not node.pending else node

    def rule_add(self, item: Any, left: Any, right: Any) -> Node:
        return self.elementwise(item, left, right, "+")

    def rule_sub(self, item: Any, left: Any, right: Any) -> Node:
        return self.elementwise(item, left, right, "-")

    def rule_hadamard(self, item: Any, left: Any, _op: Any, right: Any) -> Node:
        return self.elementwise(item, left, right, "*")

    def elementwise(self, item: Any, left: Any, right: Any, op: str) -> Node:
        a, b = self.node(left), self.node(right)
        a, b = self.sized_like(a, b), self.sized_like(b, a)
        shape = b.shape if a.shape is None or (a.scalar and b.shape is not None) else a.shape
        text = f"{a.text} {op} {_wrap(b.text) if op != '+' else b.text}" if op != "*" else \
            f"{_wrap(a.text)} * {_wrap(b.text)}"
        return Node(text, shape, entry=a.entry or b.entry)

    def sized_like(self, node: Node, other: Node) -> Node:
        """A pending I or 1 sized like the array it is added to (I: square)."""
        if not node.pending:
            return node
        if other.shape is None or len(other.shape) != 2:
            return _settled(node, None)
        if node.pending == "eye":
            return _settled(node, other.shape[0])
        return Node(f"ones({other.shape[0]}, {other.shape[1]})", other.shape)

    def rule_kron(self, item: Any, left: Any, right: Any) -> Node:
        a, b = _settled(self.node(left), None), _settled(self.node(right), None)
        shape: Shape = None
        if a.shape is not None and b.shape is not None and len(a.shape) == 2 and len(b.shape) == 2:
            shape = (_product_dim(a.shape[0], b.shape[0]), _product_dim(a.shape[1], b.shape[1]))
        return Node(f"kron({_strip(a.text)}, {_strip(b.text)})", shape)

    def rule_divide(self, item: Any, left: Any, right: Any) -> Node:
        a, b = self.node(left), self.node(right)
        if b.shape is None or not (b.scalar or b.shape == ()):
            raise self.fail("division by a non-scalar: write a matrix's inverse as X^{-1}", item)
        return Node(f"{_wrap(a.text)} / {_wrap(b.text)}", a.shape)

    def rule_times(self, item: Any, left: Any, _op: Any, right: Any) -> Node:
        return self.product(item, self.node(left), self.node(right))

    def rule_juxt(self, item: Any, left: Any, right: Any) -> Node:
        return self.product(item, self.node(left), self.node(right))

    def product(self, item: Any, a: Node, b: Node) -> Node:
        """Juxtaposition: scaling when a side is a scalar (or, inside a \\sum, entries times
        entries), else the matrix product, a pending I or 1 sized to fit."""
        if a.entry or b.entry:
            return Node(f"{_wrap(a.text)} * {_wrap(b.text)}", a.shape or b.shape, entry=True)
        if a.pending and b.shape is not None and len(b.shape) == 2:
            a = _settled(a, b.shape[0]) if a.pending != "ones" else _settled(a, None)
        if b.pending and a.shape is not None and len(a.shape) == 2:
            b = _settled(b, a.shape[1]) if b.pending != "ones.T" else _settled(b, None)
        a, b = _settled(a, None), _settled(b, None)
        if _scales(a, b) or _scales(b, a):
            shape = b.shape if _scales(a, b) else a.shape
            return Node(f"{_wrap_left(a.text)} * {_wrap(b.text)}", shape)
        shape = None
        if a.shape is not None and b.shape is not None and len(a.shape) == 2 and len(b.shape) == 2:
            shape = (a.shape[0], b.shape[1])
        return Node(f"{_wrap_left(a.text)} @ {_wrap(b.text)}", shape)


def _scales(a: Node, b: Node) -> bool:
    """Whether `a` (a scalar, or a 1 x 1 product such as x^T y) scales `b` rather than
    multiplying it as matrices."""
    if a.shape == ():
        return True
    if not a.scalar:
        return False
    return b.shape is None or len(b.shape) != 2 or b.shape[0] != 1


def _wrap_left(text: str) -> str:
    """The left operand of @ or *: parenthesised only if a + or - at its top would take it
    apart (@, * and / group from the left, and a leading minus binds tighter)."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "(["
        depth -= ch in ")]"
        if depth == 0 and ch in "+-" and i > 0 and text[i - 1] == " ":
            return f"({text})"
    return text


def _reversed(shape: Shape) -> Shape:
    return None if shape is None else tuple(reversed(shape))


def _strip(text: str) -> str:
    """Parentheses a function's own call makes redundant."""
    if text.startswith("(") and text.endswith(")") and _atomic(text) and _matching(text):
        return text[1:-1]
    return text


def _matching(text: str) -> bool:
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def _tokens(tree: Any) -> list[Any]:
    from lark import Token

    out: list[Any] = []
    for child in getattr(tree, "children", []):
        out.extend([child] if isinstance(child, Token) else _tokens(child))
    return out


def _function_name(token: str) -> str:
    """\\operatorname{tr} -> tr; \\ln -> ln."""
    if "{" in token:
        return token[token.index("{") + 1: token.rindex("}")]
    return token.lstrip("\\")
