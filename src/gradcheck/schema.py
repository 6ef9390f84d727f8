"""The identity format's keys, held once, as data.

The loader (gradcheck.catalogue) checks every file against these tables, and the JSON
Schema that editors use (schemas/identity.schema.json) is generated from them, so the two
cannot disagree; a test checks that the shipped file is the generated one. Regenerate it
with `python -m gradcheck.schema > src/gradcheck/schemas/identity.schema.json`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gradcheck.kinds import KINDS

NAME_PATTERN = re.compile(r"^[a-z0-9_.-]+$")
IDENT_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_DIM = 100_000
MAX_NDIM = 4  # dimensions of an array (two before format 6)
LAYOUTS = ("numerator", "denominator")
EXPECTS = ("fail", "pass")
# Versions of the format: 2 adds indexing and slicing, and the functions of FUNCTIONS whose
# `since` is 2; 3 adds the claim forms of FORM_SINCE; 4 lets any expression be written in
# LaTeX ({tex: ...}); 5 adds d(E), the differential of an expression, in claims with
# directions; 6 adds complex values (the complex kinds, conj, real, imag, .H, imaginary
# numbers such as 2j, and a claim's `convention`). A file without `format` is version 1, and
# means what it always meant.
VERSIONS = (1, 2, 3, 4, 5, 6)
LATEST = VERSIONS[-1]
# Spaces an input's directions may be restricted to (gradcheck.tangents); all but the
# first need format 3.
PERTURBS = ("symmetric", "lower", "upper", "diagonal", "skew", "toeplitz", "stiefel")
# Each claim form, and the keys that say what it is about: required with that form,
# not allowed with the others.
FORM_TARGETS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "derivative": ("wrt", "layout"), "differential": (), "hessian": ("wrt",), "equals": (),
    "vjp": ("wrt", "cotangent"), "jvp": ("wrt", "tangent"), "derivation": (),
    "second_differential": (), "hvp": ("wrt", "tangent"),
})
FORMS = tuple(FORM_TARGETS)
# Keys a form may have but need not, not allowed with the others.
FORM_OPTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType({"derivation": ("read_off",),
                                                                 "derivative": ("convention",),
                                                                 "vjp": ("convention",)})
TARGETS = ("wrt", "layout", "cotangent", "tangent", "read_off", "convention")
# What a derivative (or a vjp) with respect to a complex input means (format 6), for a real f
# of Z = X + iY: the names, and the claim G in terms of the partial derivatives.
CONVENTIONS: Mapping[str, str] = MappingProxyType({
    "pytorch": "G = df/dX + i df/dY, the gradient in the real inner product Re sum(conj(A) B) "
               "(PyTorch's; twice the conjugate Wirtinger derivative)",
    "jax": "G = df/dX - i df/dY, the conjugate of PyTorch's (JAX's grad; twice the Wirtinger derivative)",
    "wirtinger": "G = df/dZ = (df/dX - i df/dY) / 2, the Wirtinger derivative (the Matrix Cookbook's "
                 "generalized complex derivative)",
    "conjugate": "G = df/dconj(Z) = (df/dX + i df/dY) / 2, the conjugate Wirtinger derivative (the Matrix "
                 "Cookbook's conjugate complex derivative)",
})
# the conventions a vjp may state: PyTorch's (adjoint in Re sum(conj(A) B)) and JAX's (the
# transpose in sum(A B), the conjugate of PyTorch's at the conjugate cotangent)
VJP_CONVENTIONS = ("pytorch", "jax")
# The format version that introduced each claim form (the others are in every version).
FORM_SINCE: Mapping[str, int] = MappingProxyType({"vjp": 3, "jvp": 3, "derivation": 3,
                                                  "second_differential": 3, "hvp": 3})
# The keys that name a claim's own direction variable (sampled, never declared).
DIRECTION_KEYS = ("cotangent", "tangent")


@dataclass(frozen=True)
class Key:
    """One key of a mapping in the format: its type as the loader checks it ("str", "int", "value", "below",
    "list[str]", "map", "list", "expr", "expr|chain", "steps" or "name|names"), whether it is required, and the JSON Schema of
    its value."""

    type: str
    required: bool = False
    json: Mapping[str, Any] = field(default_factory=dict)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _named(value: dict[str, Any], description: str = "", **more: Any) -> dict[str, Any]:
    """A mapping of identifiers to `value` (dims, inputs, constants, let)."""
    return {"type": "object", **({"description": description} if description else {}), **more,
            "propertyNames": _ref("identifier"), "additionalProperties": value}


TOP: Mapping[str, Key] = MappingProxyType({
    "name": Key("str", True, {"type": "string", "pattern": NAME_PATTERN.pattern,
                              "description": "Unique in a catalogue."}),
    "title": Key("str", json={"type": "string"}),
    "source": Key("str", json={"type": "string", "description": "The work and equation the claim comes from."}),
    "tags": Key("list[str]", json={"type": "array", "items": {"type": "string"}}),
    "latex": Key("str", json={"type": "string"}),
    "notes": Key("str", json={"type": "string"}),
    "dims": Key("map", json=_named({"type": "integer", "minimum": 1, "maximum": MAX_DIM},
                                   "Default size of every symbolic dimension.")),
    "inputs": Key("map", True, _named(_ref("input"), "The variables that are differentiated.", minProperties=1)),
    "constants": Key("map", json=_named(_ref("constant"), "Random, held fixed, never differentiated.")),
    "let": Key("map", json=_named(_ref("expression"), "Named intermediates, evaluated in order.")),
    "function": Key("expr", True, _ref("expression")),
    "claims": Key("list", True, {"type": "array", "minItems": 1, "items": _ref("claim")}),
    "format": Key("int", json={"enum": list(VERSIONS),
                               "description": "Version of the format the file uses (default 1)."}),
})

VARIABLE: Mapping[str, Key] = MappingProxyType({
    "shape": Key("list", True, _ref("shape")),
    "kind": Key("str", json=_ref("kind")),
    "perturb": Key("str", json={"enum": list(PERTURBS), "description": (
        "The space the input's directions are restricted to: symmetric (the input stays symmetric), lower "
        "and upper (triangular), diagonal, skew (skew-symmetric), toeplitz, stiefel (tangent to "
        "orthonormal columns); all but symmetric need format 3.")}),  # inputs only
    "value": Key("value", json={"description": "A constant's entries, nested as its shape (format 2).",
                                "type": ["number", "array"]}),  # constants only
    "below": Key("below", json={"description": "The bound of a constant of kind index (format 2).",
                                "oneOf": [{"type": "integer", "minimum": 1}, _ref("identifier")]}),
})
INPUT_ONLY = ("perturb",)
CONSTANT_ONLY = ("value", "below")

CLAIM: Mapping[str, Key] = MappingProxyType({
    **{form: Key("expr", json=_ref("expression")) for form in FORMS if form not in ("equals", "derivation")},
    "derivation": Key("steps", json={"type": "array", "minItems": 1, "description": (
        "Steps of a derivation, each following from the one before (format 3)."),
        "items": {"oneOf": [_ref("expression"), _ref("step")]}}),
    "read_off": Key("map", json=_ref("read_off")),
    # from format 3, a list too: a chain f = a = b = ..., judged link by link
    "equals": Key("expr|chain", json={"oneOf": [_ref("expression"),
                                                {"type": "array", "minItems": 1, "items": _ref("expression"),
                                                 "description": "A chain of equalities (format 3)."}]}),
    "wrt": Key("name|names", json={"oneOf": [_ref("identifier"), {
        "type": "array", "minItems": 1, "uniqueItems": True, "items": _ref("identifier"),
        "description": "The inputs of a Hessian over several of them, in block order (format 3)."}]}),
    "layout": Key("str", json={"enum": list(LAYOUTS), "description": ("numerator: df = tr(D dX), D shaped like X transposed (the Jacobian, size(f) by size(X)); "
                       "denominator: the gradient, shaped like X (its transpose).")}),
    "cotangent": Key("str", json={**_ref("identifier"),
                                  "description": "The name of a vjp's cotangent, of f's shape (format 3)."}),
    "tangent": Key("str", json={**_ref("identifier"),
                                "description": "The name of a jvp's tangent, of the input's shape (format 3)."}),
    "convention": Key("str", json={"enum": list(CONVENTIONS), "description": (
        "With respect to a complex input (format 6), what the claimed derivative is: "
        + "; ".join(f"{k}: {v}" for k, v in CONVENTIONS.items())
        + ". A vjp takes pytorch or jax.")}),
    "label": Key("str", json={"type": "string"}),
    "expect": Key("str", json={"enum": list(EXPECTS), "description": (
        "fail: the claim is recorded as wrong (a published slip), and passes the run by failing; it needs "
        "a reason. pass: the default.")}),
    "reason": Key("str", json={"type": "string"}),
})


# A derivation's step in its long form, and its reading-off.
STEP: Mapping[str, Key] = MappingProxyType({
    "step": Key("expr", True, {"$ref": "#/$defs/expression"}),
    "by": Key("str", json={"type": "string", "description": "The rule the step uses, e.g. 'eq. (7)'."}),
    "uses": Key("str", json={"type": "string", "pattern": NAME_PATTERN.pattern,
                             "description": "An identity of the catalogue the step uses, checked to exist."}),
})
READ_OFF: Mapping[str, Key] = MappingProxyType({
    "wrt": Key("str", True, {"$ref": "#/$defs/identifier"}),
    "layout": Key("str", True, {"enum": list(LAYOUTS), "description": ("numerator: df = tr(D dX), D shaped like X transposed (the Jacobian, size(f) by size(X)); "
                       "denominator: the gradient, shaped like X (its transpose).")}),
    "derivative": Key("expr", True, {"$ref": "#/$defs/expression"}),
})


def _object(keys: Mapping[str, Key], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    required = [k for k, key in keys.items() if key.required and k not in skip]
    return {"type": "object", "additionalProperties": False, **({"required": required} if required else {}),
            "properties": {k: dict(key.json) for k, key in keys.items() if k not in skip}}


def _claim() -> dict[str, Any]:
    def one(form: str) -> dict[str, Any]:
        allowed = FORM_TARGETS[form] + FORM_OPTIONS.get(form, ())
        others = [f for f in FORMS if f != form] + [t for t in TARGETS if t not in allowed]
        one_input = {} if form == "hessian" else {"properties": {"wrt": _ref("identifier")}}
        return {"required": [form, *FORM_TARGETS[form]], "not": {"anyOf": [{"required": [k]} for k in others]},
                **one_input}

    return {
        **_object(CLAIM),
        "oneOf": [one(form) for form in FORMS],
        # `expect: fail` needs a reason, and a reason is only for `expect: fail`
        "if": {"properties": {"expect": {"const": "fail"}}, "required": ["expect"]},
        "then": {"required": ["reason"]},
        "dependentSchemas": {"reason": {"required": ["expect"], "properties": {"expect": {"const": "fail"}}}},
    }


_kind_index = {"properties": {"kind": {"const": "index"}}, "required": ["kind"]}


def _before(version: int, claim: dict[str, Any], variable: dict[str, Any]) -> dict[str, Any]:
    """Every claim of a file of a version before `version` also satisfies `claim`, and
    every input `variable`."""
    at_least = {"required": ["format"], "properties": {"format": {"minimum": version}}}
    return {"if": {"not": at_least}, "then": {"properties": {"claims": {"items": claim},
                                                            "inputs": {"additionalProperties": variable}}}}


def _without_latex() -> dict[str, Any]:
    """What a file before format 4 satisfies: every expression Python syntax or a number,
    none a {tex: ...} mapping."""
    plain = _ref("python_expression")
    chain = {"oneOf": [plain, {"type": "array", "items": plain}]}
    step = {"oneOf": [plain, {"type": "object", "properties": {"step": plain}}]}
    claim = {"properties": {**{form: plain for form in FORMS if form not in ("equals", "derivation")},
                            "equals": chain, "derivation": {"type": "array", "items": step},
                            "read_off": {"type": "object", "properties": {"derivative": plain}}}}
    at_least = {"required": ["format"], "properties": {"format": {"minimum": 4}}}
    return {"if": {"not": at_least}, "then": {"properties": {
        "function": plain, "let": {"type": "object", "additionalProperties": plain},
        "claims": {"type": "array", "items": claim}}}}


def _before_6() -> dict[str, Any]:
    """What a file before format 6 satisfies: arrays of at most two dimensions, real kinds,
    no `convention`."""
    at_least = {"required": ["format"], "properties": {"format": {"minimum": 6}}}
    real = [k.name for k in KINDS.values() if k.since < 6]
    variable = {"properties": {"shape": {"maxItems": 2}, "kind": {"enum": real}}}
    return {"if": {"not": at_least}, "then": {"properties": {
        "inputs": {"additionalProperties": variable}, "constants": {"additionalProperties": variable},
        "claims": {"items": {"not": {"required": ["convention"]}}}}}}


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the format, generated from the tables above."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://gradcheck.dev/schemas/identity-v1.json",
        "title": "gradcheck identity file (format versions 1 to 6)",
        "description": ("One matrix-calculus identity: a function, its inputs and claimed derivatives. "
                        "See docs/format.md."),
        **_object(TOP),
        # what a file of an earlier version may not use (the loader's version gate)
        "allOf": [_before(3, {"not": {"anyOf": [{"required": [form]} for form, v in FORM_SINCE.items() if v == 3]},
                              "properties": {"equals": _ref("expression"), "wrt": _ref("identifier")}},
                          {"properties": {"perturb": {"enum": list(PERTURBS[:1])}}}),
                  _without_latex(), _before_6()],
        "$defs": {
            "identifier": {"type": "string", "pattern": IDENT_PATTERN.pattern},
            "expression": {"oneOf": [_ref("python_expression"), _ref("latex_expression")]},
            "python_expression": {
                "description": ("Python syntax with NumPy meaning (see docs/format.md#expressions); "
                                "a number is a constant."),
                "type": ["string", "number"],
            },
            "latex_expression": {
                "description": "The expression in LaTeX (format 4; see docs/format.md#latex).",
                "type": "object", "additionalProperties": False, "required": ["tex"],
                "properties": {"tex": {"type": "string", "minLength": 1}},
            },
            "shape": {"type": "array", "maxItems": MAX_NDIM,
                      "description": f"At most 2 dimensions before format 6, up to {MAX_NDIM} from it.",
                      "items": {"oneOf": [{"type": "string"}, {"type": "integer", "minimum": 1, "maximum": MAX_DIM}]}},
            "kind": {"enum": list(KINDS),
                     "description": "How a value is sampled (default general): " + "; ".join(
                         f"{k.name}: {k.drawn}" + (f" (format {k.since})" if k.since > 1 else "")
                         for k in KINDS.values()) + "."},
            "input": {**_object(VARIABLE, skip=CONSTANT_ONLY), "not": _kind_index},
            "constant": {
                **_object(VARIABLE, skip=INPUT_ONLY),
                "not": {"required": ["kind", "value"]},
                # kind index needs its bound, and the bound is for kind index only
                "if": _kind_index, "then": {"required": ["below"]},
                "dependentSchemas": {"below": _kind_index},
            },
            "claim": _claim(),
            "step": _object(STEP),
            "read_off": _object(READ_OFF),
        },
    }


def text() -> str:
    """The schema file's text, exactly as shipped."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(text(), end="")
