"""The format's keys held once: the shipped JSON Schema is generated, and agrees with the loader."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml

from conftest import CATALOGUE, ROOT
from gradcheck import schema
from gradcheck.catalogue import load_data
from gradcheck.errors import CatalogueError

SHIPPED = ROOT / "src" / "gradcheck" / "schemas" / "identity.schema.json"
# a format-1 file: the seed's logdet without its format key and its LaTeX claims (format 4)
_SEED = yaml.safe_load((CATALOGUE / "seed" / "logdet.yaml").read_text())
BASE = {**{k: v for k, v in _SEED.items() if k != "format"},
        "claims": [c for c in _SEED["claims"] if "tex" not in str(c)]}


def test_the_shipped_schema_is_the_generated_one() -> None:
    # on failure: python -m gradcheck.schema > src/gradcheck/schemas/identity.schema.json
    assert SHIPPED.read_text(encoding="utf-8") == schema.text()
    jsonschema.Draft202012Validator.check_schema(json.loads(schema.text()))


def loader_accepts(document: dict[str, Any]) -> bool:
    try:
        load_data(document, "f.yaml")
    except CatalogueError:
        return False
    return True


def schema_accepts(document: dict[str, Any]) -> bool:
    return jsonschema.Draft202012Validator(schema.json_schema()).is_valid(document)


X = {"X": {"shape": ["n", "n"], "kind": "invertible"}}


@pytest.mark.parametrize(("change", "valid"), [
    ({}, True),
    ({"tags": []}, True),
    ({"claims": [{"equals": "logdet(X)", "expect": "pass"}]}, True),
    ({"claims": [{"equals": "0", "expect": "fail", "reason": "a slip"}]}, True),
    ({"claims": [{"hessian": "0", "wrt": "X"}]}, True),
    ({"inputs": {"X": {"shape": ["n", "n"], "kind": "spd", "perturb": "symmetric"}}}, True),
    ({"format": 2}, True),
    ({"format": 2, "claims": [{"equals": "logdet(X)", "label": "as written"}]}, True),
    ({"format": 2, "constants": {"A": {"shape": [2, 2], "value": [[1, 0], [0, 1]]}}}, True),
    ({"format": 2, "constants": {"A": {"shape": [2], "value": [1, 0], "kind": "onehot"}}}, False),
    ({"format": 2, "inputs": {"X": {"shape": ["n", "n"], "value": [[1]]}}}, False),
    ({"format": 2, "constants": {"P": {"shape": ["n", "n"], "kind": "permutation"}}}, True),
    ({"format": 2, "dims": {"n": 3, "k": 4}, "constants": {"y": {"shape": [], "kind": "index", "below": "k"}}},
     True),
    ({"format": 2, "constants": {"y": {"shape": [], "kind": "index"}}}, False),
    ({"format": 2, "constants": {"y": {"shape": [], "below": 3}}}, False),
    ({"format": 2, "inputs": {"X": {"shape": ["n", "n"], "kind": "index", "below": 3}}}, False),
    ({"format": 3}, True),
    ({"format": 4}, True),
    ({"format": 5}, True), ({"format": 6}, True), ({"format": 7}, False),
    ({"format": 6, "inputs": {"X": {"shape": ["n", "n"], "kind": "hpd"}},
      "claims": [{"derivative": "inv(X).H", "wrt": "X", "layout": "denominator", "convention": "pytorch"}]}, True),
    ({"format": 6, "inputs": {"X": {"shape": ["n", "n"], "kind": "complex"}},
      "claims": [{"derivative": "inv(X).H", "wrt": "X", "layout": "denominator", "convention": "torch"}]}, False),
    ({"format": 6, "claims": [{"differential": "trace(inv(X) @ dX)", "convention": "jax"}]}, False),
    ({"format": 5, "inputs": {"X": {"shape": ["n", "n"], "kind": "hpd"}}}, False),
    ({"format": 6, "inputs": {"X": {"shape": [2, "n", "n"], "kind": "spd"}},
      "claims": [{"differential": "trace(sum(inv(X) @ dX, axis=0))"}]}, True),
    ({"format": 4, "function": {"tex": "\\ln|X|"},
      "claims": [{"differential": {"tex": "\\operatorname{tr}(X^{-1} dX)"}},
                 {"derivative": {"tex": "X^{-\\top}"}, "wrt": "X", "layout": "denominator"},
                 {"equals": [{"tex": "\\ln|X|"}, "logdet(X)"]},
                 {"derivation": [{"tex": "\\mathrm{tr}(X^{-1}dX)"}, {"step": {"tex": "\\mathrm{tr}(X^{-1}dX)"}}],
                  "read_off": {"wrt": "X", "layout": "numerator", "derivative": {"tex": "X^{-1}"}}}],
      "let": {"C": {"tex": "X^{-1}"}}}, True),
    ({"format": 3, "function": {"tex": "\\ln|X|"}}, False),
    ({"format": 3, "claims": [{"differential": {"tex": "\\operatorname{tr}(X^{-1} dX)"}}]}, False),
    ({"format": 3, "let": {"C": {"tex": "X^{-1}"}}}, False),
    ({"format": 3, "claims": [{"derivation": [{"step": {"tex": "0"}}]}]}, False),
    ({"format": 4, "function": {"tex": "\\ln|X|", "by": "eq. 1"}}, False),
    ({"format": 4, "function": {"latex": "\\ln|X|"}}, False),
    ({"format": 3, "claims": [{"vjp": "G * inv(X).T", "wrt": "X", "cotangent": "G"}]}, True),
    ({"format": 3, "claims": [{"jvp": "trace(inv(X) @ V)", "wrt": "X", "tangent": "V"}]}, True),
    ({"format": 3, "claims": [{"vjp": "G * inv(X).T", "wrt": "X"}]}, False),
    ({"format": 3, "claims": [{"vjp": "G * inv(X).T", "cotangent": "G"}]}, False),
    ({"format": 3, "claims": [{"vjp": "G * inv(X).T", "wrt": "X", "tangent": "G"}]}, False),
    ({"format": 3, "claims": [{"jvp": "trace(inv(X) @ V)", "wrt": "X", "tangent": "V", "layout": "numerator"}]},
     False),
    ({"format": 3, "claims": [{"differential": "trace(inv(X) @ dX)", "tangent": "V"}]}, False),
    ({"format": 2, "claims": [{"vjp": "G * inv(X).T", "wrt": "X", "cotangent": "G"}]}, False),
    ({"claims": [{"jvp": "trace(inv(X) @ V)", "wrt": "X", "tangent": "V"}]}, False),
    ({"format": 3, "claims": [{"equals": ["logdet(X)", "log(det(X))"]}]}, True),
    ({"format": 2, "claims": [{"equals": ["logdet(X)", "log(det(X))"]}]}, False),
    ({"format": 3, "claims": [{"derivation": ["trace(inv(X) @ dX)", {"step": "sum(inv(X).T * dX)", "by": "eq. 7"}],
                               "read_off": {"wrt": "X", "layout": "denominator", "derivative": "inv(X).T"}}]}, True),
    ({"format": 3, "claims": [{"derivation": ["trace(inv(X) @ dX)"]}]}, True),
    ({"format": 3, "claims": [{"derivation": []}]}, False),
    ({"format": 3, "claims": [{"derivation": [{"by": "eq. 7"}]}]}, False),
    ({"format": 3, "claims": [{"derivation": [{"step": "0", "why": "eq. 7"}]}]}, False),
    ({"format": 3, "claims": [{"derivation": ["0"], "read_off": {"wrt": "X", "derivative": "0"}}]}, False),
    ({"format": 3, "claims": [{"differential": "0", "read_off": {"wrt": "X", "layout": "numerator",
                                                                 "derivative": "0"}}]}, False),
    ({"format": 3, "claims": [{"derivation": ["0"], "wrt": "X"}]}, False),
    ({"format": 2, "claims": [{"derivation": ["0"]}]}, False),
    ({"format": 3, "claims": [{"second_differential": "-trace(inv(X) @ dX @ inv(X) @ dX)"}]}, True),
    ({"format": 3, "claims": [{"hvp": "-(inv(X) @ V @ inv(X)).T", "wrt": "X", "tangent": "V"}]}, True),
    ({"format": 3, "claims": [{"hvp": "-(inv(X) @ V @ inv(X)).T", "wrt": "X"}]}, False),
    ({"format": 3, "claims": [{"second_differential": "0", "wrt": "X"}]}, False),
    ({"format": 2, "claims": [{"second_differential": "0"}]}, False),
    ({"format": 3, "inputs": {"X": {"shape": ["n", "n"]}, "Y": {"shape": [2]}},
      "claims": [{"hessian": "0", "wrt": ["X", "Y"]}]}, True),
    ({"format": 2, "inputs": {"X": {"shape": ["n", "n"]}, "Y": {"shape": [2]}},
      "claims": [{"hessian": "0", "wrt": ["X", "Y"]}]}, False),
    ({"format": 3, "claims": [{"derivative": "0", "layout": "numerator", "wrt": ["X"]}]}, False),
    ({"format": "2"}, False),
    ({"clams": []}, False),
    ({"claims": []}, False),
    ({"claims": [{"wrt": "X", "derivative": "inv(X)"}]}, False),  # no layout
    ({"claims": [{"differential": "0", "equals": "0"}]}, False),
    ({"claims": [{"differential": "0", "layout": "numerator"}]}, False),
    ({"claims": [{"hessian": "0"}]}, False),  # no wrt
    ({"claims": [{"equals": "0", "wrt": "X"}]}, False),
    ({"claims": [{"equals": "0", "expect": "fail"}]}, False),  # no reason
    ({"claims": [{"equals": "0", "expect": "pass", "reason": "why"}]}, False),
    ({"claims": [{"equals": "0", "reason": "why"}]}, False),
    ({"claims": [{"equals": "0", "expect": "maybe"}]}, False),
    ({"claims": [{"equals": "0", "layout": "sideways"}]}, False),
    ({"claims": [{"equals": ["0"]}]}, False),
    ({"inputs": {}}, False),
    ({"inputs": {"X": {"shape": ["n", "n"], "kind": "spdd"}}}, False),
    ({"inputs": {"X": {"shape": ["n", "n"], "perturb": "antisymmetric"}}}, False),
    ({"inputs": {"X": {"shape": ["n", "n", "n"]}}}, False),
    ({"inputs": {"X": {"shape": [0, 0]}}}, False),
    ({"inputs": {"X": {"shape": [100_001, 1]}}}, False),
    ({"inputs": {**X, "x": {"kind": "general"}}}, False),
    ({"inputs": X, "constants": {"A": {"shape": ["n", "n"], "perturb": "symmetric"}}}, False),
    ({"dims": {"n": 0}}, False),
    ({"dims": {"n": 100_001}}, False),
    ({"dims": {"2n": 3}}, False),
    ({"name": "Not A Name"}, False),
    ({"title": ["a", "list"]}, False),
    ({"tags": "one"}, False),
])
def test_the_loader_and_the_schema_agree(change: dict[str, Any], valid: bool) -> None:
    document = {**BASE, **change}
    assert loader_accepts(document) is valid
    assert schema_accepts(document) is valid


def test_every_kind_is_in_the_schema() -> None:
    from gradcheck.kinds import KINDS

    assert schema.json_schema()["$defs"]["kind"]["enum"] == list(KINDS)
