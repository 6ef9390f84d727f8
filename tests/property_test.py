"""Property-based: whatever the input, the loader and the evaluator either work or raise the
tool's own error type; no other exception (no traceback) ever reaches a user."""
from __future__ import annotations

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcheck.catalogue import load_text
from gradcheck.checker import Options, check_identity
from gradcheck.errors import GradcheckError
from gradcheck.expr import parse
from gradcheck.functions import FUNCTIONS

SLOW = pytest.mark.slow
NAMES = ["X", "x", "n", "A", "dX", "_x", "inv", "pi", "T", "nope"]
ENV = {"X": np.array([[2.0, 1.0], [0.5, 3.0]]), "x": np.array([[1.0], [-2.0]]), "n": 2,
       "A": np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]]), "dX": np.ones((2, 2))}
CALLABLES = sorted(FUNCTIONS) + ["open", "__import__", "eval", "getattr"]


def expressions() -> st.SearchStrategy[str]:
    leaf = st.one_of(st.sampled_from(NAMES), st.integers(-5, 12).map(str),
                     st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=6))

    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**", "@", "//", "<", ">=", "and", "%"]), inner)
            .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(st.sampled_from(CALLABLES), st.lists(inner, max_size=3))
            .map(lambda t: f"{t[0]}({', '.join(t[1])})"),
            st.tuples(inner, st.sampled_from(["T", "shape", "__class__"])).map(lambda t: f"({t[0]}).{t[1]}"),
            st.tuples(st.sampled_from(["sum", "softmax", "logsumexp"]), inner, st.integers(-3, 3))
            .map(lambda t: f"{t[0]}({t[1]}, axis={t[2]})"),
            inner.map(lambda e: f"-{e}"), inner.map(lambda e: f"[{e}]"), inner.map(lambda e: f"{e}[0]"),
        )

    return st.recursive(leaf, grow, max_leaves=12)


def _check_expression(source: str) -> None:
    try:
        expr = parse(source, ["X", "x", "n", "A"], extra_names=["dX"])
    except GradcheckError:
        return
    try:
        expr(ENV)
    except GradcheckError:
        pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions())
def test_random_expressions(source: str) -> None:
    _check_expression(source)


@SLOW
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions())
def test_random_expressions_many(source: str) -> None:
    _check_expression(source)


KEYS = ["name", "dims", "inputs", "constants", "let", "function", "claims", "shape", "kind", "perturb",
        "wrt", "layout", "derivative", "differential", "hessian", "equals", "expect", "reason", "label", "n", "X"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 6), st.floats(allow_nan=False, width=32),
                    st.sampled_from(["X", "n", "spd", "numerator", "denominator", "symmetric", "fail", "logdet(X)",
                                     "inv(X).T", "trace(dX)", "x", "[n, n]"]),
                    st.text(max_size=5))
DOCS = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.sampled_from(KEYS), inner, max_size=6)),
                    max_leaves=25)
VALID = {"name": "t", "dims": {"n": 3}, "inputs": {"X": {"shape": ["n", "n"], "kind": "invertible"}},
         "function": "logdet(X)", "claims": [{"wrt": "X", "layout": "denominator", "derivative": "inv(X).T"}]}


def _check_document(text: str) -> None:
    try:
        identity = load_text(text, "random.yaml")
    except GradcheckError:
        return
    results = check_identity(identity, Options(trials=1, timeout=None))
    assert results and all(r.status.value in {"PASS", "FAIL", "ERROR", "XFAIL", "XPASS"} for r in results)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCS)
def test_random_yaml_documents(document: object) -> None:
    _check_document(yaml.safe_dump(document))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(list(VALID)), DOCS, max_size=4))
def test_valid_documents_with_random_parts(changes: dict[str, object]) -> None:
    _check_document(yaml.safe_dump({**VALID, **changes}))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text_as_a_file(text: str) -> None:
    _check_document(text)


@SLOW
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(list(VALID)), DOCS, max_size=4))
def test_valid_documents_with_random_parts_many(changes: dict[str, object]) -> None:
    _check_document(yaml.safe_dump({**VALID, **changes}))
