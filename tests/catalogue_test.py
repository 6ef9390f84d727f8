from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from gradcheck.catalogue import discover, load_catalogue, load_file, load_text
from gradcheck.errors import CatalogueError
from gradcheck.schema import PERTURBS
from gradcheck.tangents import TANGENTS

VALID = """\
name: logdet
title: Gradient of the log-determinant
source: "Matrix Cookbook (2012) eq. 57"
tags: [determinant]
latex: '\\frac{\\partial \\ln|X|}{\\partial X} = X^{-T}'
notes: free text
dims: {n: 4, m: 3}
inputs:
  X: {shape: [n, n], kind: spd}
constants:
  A: {shape: [m, n]}
let:
  Xi: inv(X)
function: log(det(X))
claims:
  - wrt: X
    layout: denominator
    derivative: Xi.T
  - wrt: X
    layout: numerator
    derivative: Xi
  - differential: trace(Xi @ dX)
"""


def test_the_format_page_example_loads() -> None:
    identity = load_text(VALID, "logdet.yaml")
    assert identity.name == "logdet"
    assert identity.dims == {"n": 4, "m": 3}
    assert [v.name for v in identity.inputs] == ["X"]
    assert identity.inputs[0].kind == "spd"
    assert [v.name for v in identity.constants] == ["A"]
    assert [name for name, _ in identity.lets] == ["Xi"]
    assert [c.form for c in identity.claims] == ["derivative", "derivative", "differential"]
    assert identity.claims[1].describe() == "derivative wrt X (numerator)"
    assert identity.claims[2].line == 22
    assert identity.tags == ("determinant",)


def test_every_claim_form_and_option_loads() -> None:
    identity = load_text(
        """\
        name: all.forms-1
        dims: {n: 3}
        inputs:
          X: {shape: [n, n], kind: symmetric, perturb: symmetric}
          s: {shape: []}
        function: s * trace(X @ X)
        claims:
          - {wrt: X, layout: denominator, derivative: 2 * s * X, label: gradient}
          - {hessian: 0, wrt: s}
          - {equals: s * sum(X * X.T)}
          - {differential: 0, expect: fail, reason: not zero}
        """.replace("        ", ""),
        "f.yaml",
    )
    assert identity.inputs[0].symmetric_perturbation
    assert identity.inputs[1].shape == ()
    assert identity.claims[0].describe() == "gradient"
    assert identity.claims[3].expect_fail and identity.claims[3].reason == "not zero"


def mutate(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (mutate("claims:", "clams:"),
         "unknown key 'clams' in top level of f.yaml, line 15: did you mean 'claims'?"),
        (mutate("function: log(det(X))\n", ""), "missing required key 'function' in top level of f.yaml, line 1"),
        (mutate("X: {shape: [n, n], kind: spd}", "X: {shape: [n, k], kind: spd}"),
         "dimension 'k' is used but not declared in dims in inputs.X.shape of f.yaml, line 9: add it under dims:"),
        (mutate("X: {shape: [n, n], kind: spd}", "X: {shape: [n, mm]}"),
         "dimension 'mm' is used but not declared in dims in inputs.X.shape of f.yaml, line 9: did you mean 'm'?"),
        (mutate("kind: spd", "kind: spdd"), "unknown kind 'spdd' in inputs.X.kind of f.yaml, line 9: did you mean 'spd'?"),
        (mutate("X: {shape: [n, n], kind: spd}", "X: {shape: [n, m], kind: spd}"),
         "kind 'spd' needs a square shape [n, n], got ['n', 'm'] in inputs.X.kind of f.yaml, line 9"),
        (mutate("  - differential: trace(Xi @ dX)", "  - differential: trace(Xi @ dX)\n    derivative: Xi"),
         "a claim needs exactly one of derivative, differential, hessian, equals, vjp, jvp, derivation, second_differential, hvp; found derivative and "
         "differential in claim 3 of f.yaml, line 22"),
        (mutate("  - differential: trace(Xi @ dX)", "  - label: nothing"),
         "a claim needs exactly one of derivative, differential, hessian, equals, vjp, jvp, derivation, second_differential, hvp; found none in claim 3 of "
         "f.yaml, line 22"),
        (mutate("  - wrt: X\n    layout: numerator", "  - wrt: A\n    layout: numerator"),
         "wrt 'A' is not an input in claim 2.wrt of f.yaml, line 19: inputs are X"),
        (mutate("    layout: numerator\n", ""),
         "a derivative claim needs 'layout' (numerator or denominator) in claim 2 of f.yaml, line 19"),
        (mutate("layout: numerator", "layout: numerater"),
         "unknown layout 'numerater': expected numerator or denominator in claim 2.layout of f.yaml, line 20"),
        (mutate("  - differential: trace(Xi @ dX)", "  - differential: trace(Xi @ dX)\n    expect: fail"),
         "'expect: fail' needs a 'reason' in claim 3 of f.yaml, line 22"),
        (mutate("derivative: Xi.T", "derivative: invv(X).T"),
         "unknown function 'invv' in claim 1 of f.yaml, line 18: did you mean 'inv'?"),
        (mutate("  Xi: inv(X)", "  Xi: inv(Y)"), "unknown name 'Y' in let Xi of f.yaml, line 13"),
        (mutate("  A: {shape: [m, n]}", "  dX: {shape: [m, n]}"),
         "'dX' is reserved for the direction of input 'X' in constants.dX of f.yaml, line 11"),
        (mutate("  A: {shape: [m, n]}", "  X: {shape: [m, n]}"),
         "'X' is declared twice (in inputs and constants) in constants.X of f.yaml, line 11"),
        (mutate("  Xi: inv(X)", "  A: inv(X)"),
         "'A' is declared twice (in constants and let) in let.A of f.yaml, line 13"),
        (mutate("  Xi: inv(X)", "  exp: inv(X)"),
         "'exp' is a built-in name and cannot be redefined in let.exp of f.yaml, line 13"),
        (mutate("dims: {n: 4, m: 3}", "dims: {n: 4, m: 0}"),
         "dimension size must be an integer from 1 to 100,000, got 0 in dims.m of f.yaml, line 7"),
        (mutate("name: logdet", "name: Log Det"),
         "name 'Log Det' may use only a-z, 0-9, '_', '.' and '-' in name of f.yaml, line 1"),
        (mutate("tags: [determinant]", "tags: determinant"), "expected a list of text, got text in tags of f.yaml, line 4"),
        (mutate("claims:\n", "claims: []\nx:\n"), "unknown key 'x' in top level of f.yaml, line 16: expected one of "
         "name, title, source, tags, latex, notes, dims, inputs, constants, let, function, claims, format"),
        ("- just\n- a list\n", "expected a mapping of keys at the top level, got a list in top level of f.yaml, line 1"),
    ],
)
def test_errors_name_file_key_and_line(text: str, message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        load_text(text, "f.yaml")
    assert str(info.value) == message


def test_claim_keys_are_checked_too() -> None:
    with pytest.raises(CatalogueError) as info:
        load_text(mutate("    layout: denominator", "    layot: denominator"), "f.yaml")
    assert str(info.value) == "unknown key 'layot' in claim 1 of f.yaml, line 17: did you mean 'layout'?"


def test_let_may_use_only_earlier_lets() -> None:
    with pytest.raises(CatalogueError, match="unknown name 'B' in let A2 of f.yaml, line 13"):
        load_text(mutate("  Xi: inv(X)", "  A2: B\n  B: X"), "f.yaml")


def test_directions_are_only_in_differentials() -> None:
    with pytest.raises(CatalogueError, match="unknown name 'dX' in claim 1"):
        load_text(mutate("derivative: Xi.T", "derivative: dX"), "f.yaml")


def test_catalogue_collects_bad_files_and_duplicates(write: Callable[..., Path], tmp_path: Path) -> None:
    write(VALID, "a/logdet.yaml")
    write(VALID, "b/logdet_again.yaml")
    write("name: [unclosed", "c/broken.yaml")
    write("not yaml at all: {", "c/other.yml")
    (tmp_path / "README.md").write_text("not an identity")
    catalogue = load_catalogue([tmp_path])
    assert [i.name for i in catalogue.identities] == ["logdet"]
    messages = sorted(str(b.error) for b in catalogue.bad_files)
    assert len(messages) == 3
    assert any(m.startswith("duplicate identity name 'logdet' (also in ") for m in messages)
    assert any("malformed YAML" in m and "broken.yaml" in m for m in messages)


def test_discover_accepts_files_and_folders(write: Callable[..., Path], tmp_path: Path) -> None:
    one = write(VALID, "one.yaml")
    write(VALID, "sub/two.yaml")
    assert discover([one, tmp_path / "sub"]).files == (one, tmp_path / "sub" / "two.yaml")


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read file"):
        load_file(tmp_path / "missing.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("name: caf\xe9".encode("latin-1"))
    with pytest.raises(CatalogueError, match="file is not UTF-8 text"):
        load_file(bad)


# -- every message of the loader, exactly as a user reads it ---------------------------

MESSAGES_BASE = """\
name: base
dims: {n: 3}
inputs:
  X: {shape: [n, n], kind: invertible}
constants:
  A: {shape: [n, n]}
let:
  Xi: inv(X)
function: logdet(X) + trace(A @ X)
claims:
  - wrt: X
    layout: denominator
    derivative: Xi.T + A.T
  - differential: trace(Xi @ dX) + trace(A @ dX)
"""

MESSAGES = [
    (None, '- 1\n', 'expected a mapping of keys at the top level, got a list in top level of f.yaml, line 1'),
    ('name: base', 'name: Base Name',
     "name 'Base Name' may use only a-z, 0-9, '_', '.' and '-' in name of f.yaml, line 1"),
    ('inputs:\n  X: {shape: [n, n], kind: invertible}\n', 'inputs: {}\n',
     'at least one input is required in inputs of f.yaml, line 3'),
    ('dims: {n: 3}', 'dims: {n: 3}\ntitel: x',
     "unknown key 'titel' in top level of f.yaml, line 3: did you mean 'title'?"),
    ('name: base\n', '',
     "missing required key 'name' in top level of f.yaml, line 1"),
    ('dims: {n: 3}', 'dims: {n: 3}\ntags: nope',
     'expected a list of text, got text in tags of f.yaml, line 3'),
    ('dims: {n: 3}', 'dims: {2n: 3}',
     "dimension name '2n' is not a valid name in dims.2n of f.yaml, line 2"),
    ('dims: {n: 3}', 'dims: {n: 0}',
     'dimension size must be an integer from 1 to 100,000, got 0 in dims.n of f.yaml, line 2'),
    ('  X: {shape: [n, n], kind: invertible}', '  2X: {shape: [n, n]}',
     "'2X' is not a valid variable name in inputs.2X of f.yaml, line 4"),
    ('  X: {shape: [n, n], kind: invertible}', '  X: [n, n]',
     "expected a mapping with 'shape', got a list in inputs.X of f.yaml, line 4"),
    ('kind: invertible', 'kind: invertable',
     "unknown kind 'invertable' in inputs.X.kind of f.yaml, line 4: did you mean 'invertible'?"),
    ('  A: {shape: [n, n]}', '  A: {shape: [n, n], perturb: symmetric}',
     "'perturb' applies to inputs only in constants.A.perturb of f.yaml, line 6"),
    ('kind: invertible}', 'kind: invertible, perturb: skew}',
     "unknown perturb 'skew': expected one of symmetric (the others need format 3) in inputs.X.perturb of f.yaml, "
     "line 4"),
    ('kind: invertible}', 'kind: invertible, perturb: skw}',
     "unknown perturb 'skw': expected one of symmetric in inputs.X.perturb of f.yaml, line 4"),
    ('  X: {shape: [n, n], kind: invertible}', '  X: {shape: [n, 2], perturb: symmetric}',
     "'perturb: symmetric' needs a square shape in inputs.X.perturb of f.yaml, line 4"),
    ('  A: {shape: [n, n]}', '  A: {shape: [n, n, n]}',
     "shape has 3 dimensions; at most 2 are supported before format 6 in constants.A.shape of f.yaml, line 6: add 'format: 6' at the top of the file"),
    ('  A: {shape: [n, n]}', '  A: {shape: [n, m]}',
     "dimension 'm' is used but not declared in dims in constants.A.shape of f.yaml, line 6: add it under dims:"),
    ('  A: {shape: [n, n]}', '  A: {shape: [n, 0]}',
     'shape entries must be dimension names or positive integers, got 0 in constants.A.shape of f.yaml, line 6'),
    ('  A: {shape: [n, n]}', '  A: {shape: [n, 2], kind: spd}',
     "kind 'spd' needs a square shape [n, n], got ['n', 2] in constants.A.kind of f.yaml, line 6"),
    ('  Xi: inv(X)', '  Xi: inv(X)\n  trace: X',
     "'trace' is a built-in name and cannot be redefined in let.trace of f.yaml, line 9"),
    ('  Xi: inv(X)', '  Xi: inv(X)\n  dX: X',
     "'dX' is reserved for the direction of input 'X' in let.dX of f.yaml, line 9"),
    ('  A: {shape: [n, n]}', '  A: {shape: [n, n]}\n  Xi: {shape: [n, n]}',
     "'Xi' is declared twice (in constants and let) in let.Xi of f.yaml, line 9"),
    ('  Xi: inv(X)', '  Xi: inv(X)\n  2Y: X',
     "'2Y' is not a valid name in let.2Y of f.yaml, line 9"),
    ('claims:\n  - wrt: X\n    layout: denominator\n    derivative: Xi.T + A.T\n  - differential: trace(Xi @ dX) + trace(A @ dX)\n', 'claims: []\n',
     'at least one claim is required in claims of f.yaml, line 10'),
    ('  - differential: trace(Xi @ dX) + trace(A @ dX)', '  - trace(Xi @ dX)',
     'expected a mapping, got text in claim 2 of f.yaml, line 14'),
    ('  - differential: trace(Xi @ dX) + trace(A @ dX)', '  - differentail: trace(Xi @ dX)',
     "unknown key 'differentail' in claim 2 of f.yaml, line 14: did you mean 'differential'?"),
    ('  - differential: trace(Xi @ dX) + trace(A @ dX)', "  - {differential: '0', equals: '0'}",
     'a claim needs exactly one of derivative, differential, hessian, equals, vjp, jvp, derivation, second_differential, hvp; found differential and equals in claim 2 of f.yaml, line 14'),
    ('  - differential: trace(Xi @ dX) + trace(A @ dX)', '  - {label: nothing}',
     'a claim needs exactly one of derivative, differential, hessian, equals, vjp, jvp, derivation, second_differential, hvp; found none in claim 2 of f.yaml, line 14'),
    ('  - wrt: X\n', '  - wrt: Y\n',
     "wrt 'Y' is not an input in claim 1.wrt of f.yaml, line 11: inputs are X"),
    ('  - wrt: X\n    layout', '  -\n    layout',
     "a derivative claim needs 'wrt' (one of X) in claim 1 of f.yaml, line 12"),
    ('  - differential: trace(Xi @ dX) + trace(A @ dX)', "  - {differential: '0', wrt: X}",
     "'wrt' does not apply to a differential claim in claim 2.wrt of f.yaml, line 14"),
    ('    layout: denominator\n', '',
     "a derivative claim needs 'layout' (numerator or denominator) in claim 1 of f.yaml, line 11"),
    ('    layout: denominator\n', '    layout: sideways\n',
     "unknown layout 'sideways': expected numerator or denominator in claim 1.layout of f.yaml, line 12"),
    ('  - differential: trace(Xi @ dX) + trace(A @ dX)', "  - {differential: '0', layout: numerator}",
     "'layout' does not apply to a differential claim in claim 2.layout of f.yaml, line 14"),
    ('  - differential: trace(Xi @ dX) + trace(A @ dX)', '  - {equals: logdet(X), expect: maybe}',
     "unknown expect 'maybe': expected 'fail' or 'pass' in claim 2.expect of f.yaml, line 14"),
    ('  - differential: trace(Xi @ dX) + trace(A @ dX)', '  - {equals: logdet(X), expect: fail}',
     "'expect: fail' needs a 'reason' in claim 2 of f.yaml, line 14"),
    ('  - differential: trace(Xi @ dX) + trace(A @ dX)', '  - {equals: logdet(X), reason: why}',
     "'reason' is only for a claim with 'expect: fail' in claim 2.reason of f.yaml, line 14"),
    ('derivative: Xi.T + A.T', 'derivative: Xi.T + B',
     "unknown name 'B' in claim 1 of f.yaml, line 13"),
    ('derivative: Xi.T + A.T', 'derivative: Xi.T +',
     "invalid syntax in 'Xi.T +' in claim 1 of f.yaml, line 13"),
    ('  Xi: inv(X)', '  Xi: inv(Y)',
     "unknown name 'Y' in let Xi of f.yaml, line 8"),
    ('function: logdet(X) + trace(A @ X)', 'function: [logdet(X)]',
     'expected an expression, got a list in function of f.yaml, line 9'),
    ('name: base', 'name: base\nname: again',
     "duplicate key 'name' in name of f.yaml, line 2"),
    ('name: base', 'name: !!python/object:os.system base',
     "YAML tag 'tag:yaml.org,2002:python/object:os.system' is not allowed in name of f.yaml, line 1"),
    ('dims: {n: 3}', 'dims: {[n]: 3}',
     'mapping keys must be plain names in dims of f.yaml, line 2'),
    ('dims: {n: 3}', 'dims: {n: 3',
     "malformed YAML (expected ',' or '}', but got ':') in f.yaml, line 3"),
]


@pytest.mark.parametrize(("old", "new", "message"), MESSAGES)
def test_every_loader_message(old: str | None, new: str, message: str) -> None:
    text = new if old is None else MESSAGES_BASE.replace(old, new)
    assert old is None or old in MESSAGES_BASE
    with pytest.raises(CatalogueError) as info:
        load_text(text, "f.yaml")
    assert str(info.value) == message


# -- format versions --------------------------------------------------------------------

V2 = """\
format: 2
name: v2
dims: {n: 3}
inputs:
  X: {shape: [n, n], kind: spd}
function: 'sum(vech(X)) + X[0, 1]'
claims:
  - {wrt: X, layout: denominator, derivative: 'tril(ones(n, n)) + eye(n)[:, 0:1] @ eye(n)[1:2, :]'}
"""


def test_format_2_opens_indexing_and_the_new_functions() -> None:
    identity = load_text(V2, "v2.yaml")
    assert {"vech", "tril"} <= identity.function.calls | identity.claims[0].expr.calls


V1 = V2.replace("format: 2\n", "").replace("tril(ones(n, n)) + eye(n)[:, 0:1] @ eye(n)[1:2, :]", "ones(n, n)")


@pytest.mark.parametrize(("text", "message"), [
    (V1, "vech needs format 2 in function of f.yaml, line 5: add 'format: 2' at the top of the file"),
    (V1.replace("sum(vech(X))", "sum(X)"),
     "indexing (X[i, j]) needs format 2 in function of f.yaml, line 5: add 'format: 2' at the top of the file"),
    (V2.replace("format: 2", "format: 7"), "unknown format 7: expected one of 1, 2, 3, 4, 5, 6 in format of f.yaml, line 1"),
    (V2.replace("format: 2", "format: two"), "expected an integer, got text in format of f.yaml, line 1"),
])
def test_format_1_files_refuse_what_is_newer(text: str, message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        load_text(text, "f.yaml")
    assert str(info.value) == message


def test_format_1_files_keep_their_meaning() -> None:
    v1 = load_text(V1.replace("sum(vech(X)) + X[0, 1]", "sum(X)"), "f.yaml")
    v2 = load_text("format: 2\n" + V1.replace("sum(vech(X)) + X[0, 1]", "sum(X)"), "f.yaml")
    assert v1.function == v2.function
    assert [replace(c, line=None) for c in v1.claims] == [replace(c, line=None) for c in v2.claims]


GIVEN = """\
format: 2
name: given
inputs:
  x: {shape: [2, 1]}
constants:
  A: {shape: [2, 2], value: [[1, 2], [3, 4]]}
function: sum(A @ x)
claims:
  - {wrt: x, layout: denominator, derivative: 'A.T @ ones(2, 1)'}
"""


def test_a_constant_may_give_its_value() -> None:
    from gradcheck.sampling import draw_sample, identity_rng

    identity = load_text(GIVEN, "g.yaml")
    sample = draw_sample(identity, identity.sizes(), identity_rng(0, "g"))
    assert sample.values["A"].tolist() == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize(("old", "new", "message"), [
    ("format: 2\n", "", "'value' needs format 2 in constants.A.value of f.yaml, line 5: add 'format: 2' at the top of the file"),
    ("  x: {shape: [2, 1]}", "  x: {shape: [2, 1], value: [[1], [2]]}",
     "'value' applies to constants only (inputs are sampled) in inputs.x.value of f.yaml, line 4"),
    ("value: [[1, 2], [3, 4]]", "kind: spd, value: [[1, 2], [3, 4]]",
     "give 'kind' or 'value', not both in constants.A.value of f.yaml, line 6"),
    ("value: [[1, 2], [3, 4]]", "value: [[1, 2], [3]]",
     "'value' must be numbers nested as the shape [2, 2] in constants.A.value of f.yaml, line 6"),
    ("value: [[1, 2], [3, 4]]", "value: [[1, 2], [3, .nan]]",
     "'value' must be finite numbers in constants.A.value of f.yaml, line 6"),
    ("value: [[1, 2], [3, 4]]", "value: [[1, 2], [3, true]]",
     "'value' must be numbers nested as the shape [2, 2] in constants.A.value of f.yaml, line 6"),
    ("name: given\n", "name: given\ndims: {n: 2}\n",  None),
    ("{shape: [2, 2], value", "{shape: [n, n], value",
     "a constant with a 'value' needs a shape of integers, not dimension names (a --size would change it) "
     "in constants.A.value of f.yaml, line 7"),
    ("format: 2\n", "format: 1\n", "'value' needs format 2 in constants.A.value of f.yaml, line 6: add 'format: 2' at "
     "the top of the file"),
])
def test_every_value_message(old: str, new: str, message: str | None) -> None:
    text = GIVEN.replace(old, new)
    if "n, n" in new:
        text = text.replace("name: given\n", "name: given\ndims: {n: 2}\n")
    if message is None:
        load_text(text, "f.yaml")
        return
    with pytest.raises(CatalogueError) as info:
        load_text(text, "f.yaml")
    assert str(info.value) == message


def test_the_new_kinds_need_format_2() -> None:
    text = V1.replace("kind: spd", "kind: permutation").replace("sum(vech(X)) + X[0, 1]", "sum(X)")
    with pytest.raises(CatalogueError) as info:
        load_text(text, "f.yaml")
    assert str(info.value) == ("kind 'permutation' needs format 2 in inputs.X.kind of f.yaml, line 4: "
                               "add 'format: 2' at the top of the file")


LABEL = """\
format: 2
name: label
dims: {k: 4}
inputs:
  z: {shape: [k, 1]}
constants:
  y: {shape: [], kind: index, below: k}
function: logsumexp(z) - z[y, 0]
claims:
  - {wrt: z, layout: denominator, derivative: 'softmax(z) - eye(k)[:, y:y + 1]'}
"""


@pytest.mark.parametrize(("old", "new", "message"), [
    (", below: k}", "}", "kind index needs 'below', the number of values (a dimension or an integer) in "
     "constants.y.kind of f.yaml, line 7"),
    ("below: k", "below: m", "dimension 'm' is used but not declared in dims in constants.y.below of f.yaml, "
     "line 7: add it under dims:"),
    ("below: k", "below: 0", "'below' must be a dimension name or an integer from 1 to 100,000, got 0 in "
     "constants.y.below of f.yaml, line 7"),
    ("kind: index, below: k", "kind: general, below: k", "'below' applies to kind index only in "
     "constants.y.below of f.yaml, line 7"),
    ("  z: {shape: [k, 1]}", "  z: {shape: [k, 1], kind: index, below: k}",
     "an index cannot be differentiated: give it under constants in inputs.z.kind of f.yaml, line 5"),
])
def test_every_index_message(old: str, new: str, message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        load_text(LABEL.replace(old, new), "f.yaml")
    assert str(info.value) == message


def test_an_index_constant_loads_with_its_bound() -> None:
    identity = load_text(LABEL, "label.yaml")
    assert identity.constants[0].below == "k" and identity.constants[0].kind == "index"


def test_an_unquoted_comma_in_a_flow_mapping_is_explained() -> None:
    text = ("name: a\ninputs: {X: {shape: [2, 2]}}\nfunction: trace(X)\nclaims:\n"
            "  - {wrt: X, layout: denominator, derivative: ones(2, 2)}\n")
    with pytest.raises(CatalogueError) as info:
        load_text(text, "f.yaml")
    assert str(info.value) == ("unknown key '2)' in claim 1 of f.yaml, line 5: it looks like the rest of an "
                               "expression: a comma in {...} ends a value, so quote the expression ('ones(n, 1)')")


BACKWARD = """\
name: b
format: 3
inputs:
  X: {shape: [3, 3]}
constants:
  A: {shape: [3, 3]}
function: A @ X
claims:
  - {wrt: X, cotangent: G, vjp: A.T @ G}
"""


def test_vjp_and_jvp_name_their_directions() -> None:
    claims = load_text(BACKWARD + "  - {wrt: X, tangent: V, jvp: A @ V}\n", "f.yaml").claims
    assert [(c.form, c.wrt, c.direction) for c in claims] == [("vjp", "X", "G"), ("jvp", "X", "V")]
    assert claims[0].describe() == "vjp wrt X (cotangent G)"
    assert claims[1].describe() == "jvp wrt X (tangent V)"


@pytest.mark.parametrize(("claim", "message"), [
    ("{wrt: X, vjp: A.T @ G}", "a vjp claim needs 'cotangent' (a new name for it, such as G) in claim 2 of f.yaml, "
     "line 10"),
    ("{wrt: X, cotangent: A, vjp: A.T @ A}", "cotangent 'A' is already a name; the cotangent needs a new name in "
     "claim 2.cotangent of f.yaml, line 10"),
    ("{wrt: X, cotangent: dX, vjp: A.T @ dX}", "cotangent 'dX' is already a name; the cotangent needs a new name "
     "in claim 2.cotangent of f.yaml, line 10"),
    ("{wrt: X, cotangent: exp, vjp: A.T}", "cotangent 'exp' is already a name; the cotangent needs a new name in "
     "claim 2.cotangent of f.yaml, line 10"),
    ("{wrt: X, cotangent: 2G, vjp: A.T}", "cotangent '2G' is not a valid name; the cotangent needs a new name in "
     "claim 2.cotangent of f.yaml, line 10"),
    ("{wrt: X, tangent: V, vjp: A.T @ V}", "'tangent' does not apply to a vjp claim in claim 2.tangent of f.yaml, "
     "line 10"),
    ("{tangent: V, jvp: A @ V}", "a jvp claim needs 'wrt' (one of X) in claim 2 of f.yaml, line 10"),
    ("{wrt: X, tangent: V, jvp: A @ W}", "unknown name 'W' in claim 2 of f.yaml, line 10"),
    ("{differential: A @ dX, tangent: V}", "'tangent' does not apply to a differential claim in claim 2.tangent of "
     "f.yaml, line 10"),
])
def test_bad_vjp_and_jvp_claims_are_one_line_errors(claim: str, message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        load_text(BACKWARD + f"  - {claim}\n", "f.yaml")
    assert str(info.value) == message


def test_vjp_needs_format_3() -> None:
    with pytest.raises(CatalogueError) as info:
        load_text(BACKWARD.replace("format: 3", "format: 2"), "f.yaml")
    assert str(info.value) == ("a vjp claim needs format 3 in claim 1 of f.yaml, line 9: add 'format: 3' at the "
                               "top of the file")


CHAIN = """\
name: c
format: 3
inputs:
  X: {shape: [3, 3]}
function: trace(X @ X.T)
claims:
  - equals: [sum(X * X), trace(X.T @ X)]
"""


def test_a_chain_of_equalities_keeps_its_links_in_order() -> None:
    [claim] = load_text(CHAIN, "f.yaml").claims
    assert [e.source for e in claim.links] == ["sum(X * X)", "trace(X.T @ X)"]
    assert claim.source == "sum(X * X) = trace(X.T @ X)"
    assert claim.describe() == "equals (a chain of 2)"


@pytest.mark.parametrize(("text", "message"), [
    (CHAIN.replace("format: 3", "format: 2"),
     "a chain of equals (a list) needs format 3 in claim 1 of f.yaml, line 7: add 'format: 3' at the top of the file"),
    (CHAIN.replace("[sum(X * X), trace(X.T @ X)]", "[]"),
     "expected an expression or a non-empty list of them, got a list in claims.0.equals of f.yaml, line 7"),
    (CHAIN.replace("trace(X.T @ X)]", "trace(Y)]"), "unknown name 'Y' in claim 1 link 2 of f.yaml, line 7"),
    (CHAIN.replace("[sum(X * X), trace(X.T @ X)]", "[sum(X * X), [X]]"),
     "expected an expression or a non-empty list of them, got a list in claims.0.equals of f.yaml, line 7"),
])
def test_bad_chains_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        load_text(text, "f.yaml")
    assert str(info.value) == message


DERIVATION = """\
name: d
format: 3
inputs:
  X: {shape: [3, 3], kind: invertible}
function: logdet(X)
claims:
  - derivation:
      - {step: trace(inv(X) @ dX), by: eq. (10)}
      - sum(inv(X).T * dX)
    read_off: {wrt: X, layout: denominator, derivative: inv(X).T}
"""


def test_a_derivation_keeps_its_steps_rules_and_reading_off() -> None:
    [claim] = load_text(DERIVATION, "f.yaml").claims
    assert [e.source for e in claim.links] == ["trace(inv(X) @ dX)", "sum(inv(X).T * dX)"]
    assert claim.by == ("eq. (10)", None)
    assert claim.read_off is not None and claim.read_off.source == "inv(X).T"
    assert (claim.wrt, claim.layout) == ("X", "denominator")
    assert claim.describe() == "derivation (2 steps, read off wrt X (denominator))"


@pytest.mark.parametrize(("old", "new", "message"), [
    ("format: 3", "format: 2", "a derivation claim needs format 3 in claim 1 of f.yaml, line 7: add 'format: 3' at "
     "the top of the file"),
    ("by: eq. (10)", "because: eq. (10)", "unknown key 'because' in claims.0.derivation.0 of f.yaml, line 8: "
     "expected one of step, by, uses"),
    ("{step: trace(inv(X) @ dX), by: eq. (10)}", "{by: eq. (10)}",
     "missing required key 'step' in claims.0.derivation.0 of f.yaml, line 8"),
    ("sum(inv(X).T * dX)", "sum(inv(X).T * dY)", "unknown name 'dY' in claim 1 step 2 of f.yaml, line 9"),
    ("{wrt: X, layout: denominator", "{wrt: Y, layout: denominator",
     "wrt 'Y' is not an input in claim 1 read_off.wrt of f.yaml, line 10: inputs are X"),
    ("layout: denominator", "layout: down",
     "unknown layout 'down': expected numerator or denominator in claim 1 read_off.layout of f.yaml, line 10"),
    ("derivative: inv(X).T}", "}", "missing required key 'derivative' in claims.0.read_off of f.yaml, line 10"),
    ("  - derivation:\n", "  - wrt: X\n    derivation:\n",
     "'wrt' does not apply to a derivation claim in claim 1.wrt of f.yaml, line 7"),
    ("  - derivation:\n      - {step: trace(inv(X) @ dX), by: eq. (10)}\n      - sum(inv(X).T * dX)\n",
     "  - differential: trace(inv(X) @ dX)\n",
     "'read_off' does not apply to a differential claim in claim 1.read_off of f.yaml, line 8"),
    ("      - sum(inv(X).T * dX)\n", "      - [dX]\n",
     "expected a non-empty list of steps (expressions, or mappings with step and by), got a list in "
     "claims.0.derivation of f.yaml, line 7"),
])
def test_bad_derivations_are_one_line_errors(old: str, new: str, message: str) -> None:
    assert old in DERIVATION
    with pytest.raises(CatalogueError) as info:
        load_text(DERIVATION.replace(old, new), "f.yaml")
    assert str(info.value) == message


@pytest.mark.parametrize(("claim", "message"), [
    ("{wrt: X, hvp: A @ V}", "a hvp claim needs 'tangent' (a new name for it, such as V) in claim 2 of f.yaml, line 10"),
    ("{tangent: V, hvp: A @ V}", "a hvp claim needs 'wrt' (one of X) in claim 2 of f.yaml, line 10"),
    ("{wrt: X, second_differential: trace(dX @ dX)}",
     "'wrt' does not apply to a second_differential claim in claim 2.wrt of f.yaml, line 10"),
    ("{second_differential: trace(dY @ dX)}", "unknown name 'dY' in claim 2 of f.yaml, line 10"),
])
def test_bad_second_order_claims_are_one_line_errors(claim: str, message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        load_text(BACKWARD + f"  - {claim}\n", "f.yaml")
    assert str(info.value) == message


PERTURBED = """\
name: p
format: 3
dims: {n: 3}
inputs:
  X: {shape: [n, n], perturb: lower}
function: trace(X)
claims:
  - {wrt: X, layout: denominator, derivative: eye(n)}
"""


def test_every_tangent_space_is_a_perturb_of_format_3() -> None:
    assert tuple(TANGENTS) == PERTURBS
    for name in PERTURBS:
        kind = "orthogonal" if name == "stiefel" else "general"
        [x] = load_text(PERTURBED.replace("perturb: lower", f"kind: {kind}, perturb: {name}"), "f.yaml").inputs
        assert x.perturb == name and x.restricted and x.symmetric_perturbation == (name == "symmetric")


@pytest.mark.parametrize(("old", "new", "message"), [
    ("perturb: lower", "perturb: stiefel",
     "'perturb: stiefel' needs kind orthogonal: its directions depend on the point in inputs.X.perturb of f.yaml, "
     "line 5"),
    ("shape: [n, n], perturb: lower", "shape: [n, 2], perturb: skew",
     "'perturb: skew' needs a square shape in inputs.X.perturb of f.yaml, line 5"),
    ("shape: [n, n], perturb: lower", "shape: [n], perturb: lower",
     "'perturb: lower' needs a matrix shape [m, n] in inputs.X.perturb of f.yaml, line 5"),
    ("perturb: lower", "perturb: lowr",
     "unknown perturb 'lowr': expected one of symmetric, lower, upper, diagonal, skew, toeplitz, stiefel in "
     "inputs.X.perturb of f.yaml, line 5: did you mean 'lower'?"),
])
def test_bad_perturbs_are_one_line_errors(old: str, new: str, message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        load_text(PERTURBED.replace(old, new), "f.yaml")
    assert str(info.value) == message


@pytest.mark.parametrize(("claim", "message"), [
    ("{wrt: [X, X], hessian: 0}", "'wrt' lists an input twice (or none) in claim 2.wrt of f.yaml, line 10"),
    ("{wrt: [X, Y], hessian: 0}", "wrt 'Y' is not an input in claim 2.wrt of f.yaml, line 10: inputs are X"),
    ("{wrt: [X], layout: numerator, derivative: 0}",
     "'wrt' of a derivative claim is one input, not a list in claim 2.wrt of f.yaml, line 10"),
])
def test_bad_lists_of_inputs_are_one_line_errors(claim: str, message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        load_text(BACKWARD + f"  - {claim}\n", "f.yaml")
    assert str(info.value) == message


def test_a_hessian_over_several_inputs_names_them_in_order() -> None:
    text = BACKWARD.replace("  X: {shape: [3, 3]}", "  X: {shape: [3, 3]}\n  Y: {shape: [2]}")
    claims = load_text(text + "  - {wrt: [Y, X], hessian: 0}\n  - {wrt: [X], hessian: 0}\n", "f.yaml").claims
    assert (claims[1].blocks, claims[1].wrt, claims[1].describe()) == (("Y", "X"), None, "hessian wrt [Y, X]")
    assert (claims[2].blocks, claims[2].wrt) == ((), "X")  # a list of one is that input
    with pytest.raises(CatalogueError, match="a list of inputs as 'wrt' needs format 3"):
        load_text(text.replace("format: 3", "format: 2").replace(
            "  - {wrt: X, cotangent: G, vjp: A.T @ G}\n", "  - {wrt: [Y, X], hessian: 0}\n"), "f.yaml")


def test_a_step_that_uses_an_unknown_identity_makes_its_file_bad(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text(DERIVATION.replace("by: eq. (10)}", "by: eq. (10), uses: trace_cyclc}"))
    (tmp_path / "t.yaml").write_text(BACKWARD.replace("name: b", "name: trace_cyclic"))
    catalogue = load_catalogue([tmp_path])
    assert [i.name for i in catalogue.identities] == ["trace_cyclic"]
    [bad] = catalogue.bad_files
    assert str(bad.error) == (f"step 1 uses 'trace_cyclc', which is not an identity of the catalogue in claim 1 step "
                              f"1.uses of {tmp_path / 'd.yaml'}, line 7: did you mean 'trace_cyclic'?")
    (tmp_path / "d.yaml").write_text(DERIVATION.replace("by: eq. (10)}", "by: eq. (10), uses: trace_cyclic}"))
    assert [c.uses for i in load_catalogue([tmp_path]).identities for c in i.claims if c.form == "derivation"] == \
        [("trace_cyclic", None)]


def test_an_entry_is_what_settling_reads(tmp_path: Path) -> None:
    """A run settles its files on their entries (name, path, the uses of each step), as
    loading settles them on identities: the same identities kept, the same bad files."""
    from gradcheck.catalogue import Entry, Use, discover, load_item, settled

    (tmp_path / "d.yaml").write_text(DERIVATION.replace("by: eq. (10)}", "by: eq. (10), uses: trace_cyclc}"))
    (tmp_path / "t.yaml").write_text(BACKWARD.replace("name: b", "name: trace_cyclic"))
    (tmp_path / "u.yaml").write_text(BACKWARD.replace("name: b", "name: trace_cyclic"))
    found = discover([tmp_path])
    items = [load_item(path) for path in found.files]
    assert items[0].entry == Entry("d", str(tmp_path / "d.yaml"), (Use(1, 1, "trace_cyclc", 7),))  # type: ignore[union-attr]
    entries, bad = settled(found, [i.entry for i in items])  # type: ignore[union-attr]
    catalogue = load_catalogue([tmp_path])
    assert entries == tuple(i.entry for i in catalogue.identities) == (items[1].entry,)  # type: ignore[union-attr]
    assert [(b.path, str(b.error)) for b in bad] == [(b.path, str(b.error)) for b in catalogue.bad_files]
    assert [str(b.error).split(" (")[0] for b in bad] == ["duplicate identity name 'trace_cyclic'",
                                                          "step 1 uses 'trace_cyclc', which is not an identity of "
                                                          "the catalogue in claim 1 step 1.uses of "
                                                          f"{tmp_path / 'd.yaml'}, line 7: did you mean "
                                                          "'trace_cyclic'?"]


@pytest.mark.parametrize(("old", "new", "message"), [
    ("      - sum(inv(X).T * dX)\n", "      - logdet(X)\n",
     "step 2 has no direction (dX) but the derivation is of differentials: every step is df written with them in "
     "claim 1 step 2 of f.yaml, line 9"),
    ("by: eq. (10)}", "by: eq. (10), uses: Trace Cyclic}",
     "'uses' names an identity, and 'Trace Cyclic' is not an identity name in claim 1 step 1.uses of f.yaml, line 8"),
])
def test_bad_steps_are_one_line_errors(old: str, new: str, message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        load_text(DERIVATION.replace(old, new), "f.yaml")
    assert str(info.value) == message


def test_arrays_of_three_or_four_dimensions_need_format_6() -> None:
    text = "name: s\ninputs:\n  X: {shape: [2, 3, 4]}\nfunction: sum(X)\nclaims:\n  - {differential: sum(dX)}\n"
    with pytest.raises(CatalogueError, match=r"shape has 3 dimensions; at most 2 are supported before format 6 in "
                                             r"inputs.X.shape of s.yaml, line 3: add 'format: 6'"):
        load_text(text, "s.yaml")
    assert load_text("format: 6\n" + text, "s.yaml").inputs[0].shape == (2, 3, 4)
    with pytest.raises(CatalogueError, match="shape has 5 dimensions; at most 4 are supported"):
        load_text("format: 6\n" + text.replace("[2, 3, 4]", "[2, 3, 4, 1, 1]"), "s.yaml")
    with pytest.raises(CatalogueError, match=r"kind 'spd' needs a square shape \[n, n\] \(or a stack \[b, n, n\]\)"):
        load_text("format: 6\n" + text.replace("[2, 3, 4]}", "[2, 3, 4], kind: spd}"), "s.yaml")


def _listed(catalogue: object) -> tuple[list[tuple[str, str, int]], list[str]]:
    from gradcheck.catalogue import Catalogue

    assert isinstance(catalogue, Catalogue)
    return ([(i.name, i.path, len(i.claims)) for i in catalogue.identities],
            [f"{b.path}: {b.error}" for b in catalogue.bad_files])


def test_files_loaded_in_workers_make_the_catalogue_loaded_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from gradcheck import catalogue as catalogue_module

    shutil.copytree("identities/seed", tmp_path / "seed")
    (tmp_path / "bad.yaml").write_text("name: bad\n")
    shutil.copy("identities/seed/logdet.yaml", tmp_path / "again.yaml")  # a name twice
    monkeypatch.setattr(catalogue_module, "LOADED_IN_WORKERS", 1)
    found = discover([tmp_path])
    here = catalogue_module.load_files(found, jobs=1)
    there = catalogue_module.load_files(found, jobs=2)
    assert _listed(there) == _listed(here) == _listed(load_catalogue([tmp_path]))
    assert len(here.bad_files) == 2 and len(here.identities) > 10
    # what came back from a worker is the identity, its expressions parsed again when used
    [logdet] = [i for i in there.identities if i.name == "logdet"]
    assert logdet.claims[0].expr.source == load_file(tmp_path / "seed" / "logdet.yaml").claims[0].expr.source


@pytest.mark.skipif(__import__("multiprocessing").get_start_method() != "fork",
                    reason="the patched loader reaches the workers by fork only")
def test_a_file_whose_loading_worker_dies_is_a_bad_file_saying_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from gradcheck import catalogue as catalogue_module

    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.yaml").write_text(Path("identities/seed/logdet.yaml").read_text().replace(
            "name: logdet", f"name: {name}"))
    load_item = catalogue_module.load_item

    def dying(path: object, limits: object = None) -> object:
        if str(path).endswith("b.yaml"):
            os._exit(3)
        return load_item(path)  # type: ignore[arg-type]

    monkeypatch.setattr(catalogue_module, "LOADED_IN_WORKERS", 1)
    monkeypatch.setattr(catalogue_module, "load_item", dying)
    loaded = catalogue_module.load_files(discover([tmp_path]), jobs=2)
    assert [i.name for i in loaded.identities] == ["a", "c"]
    [bad] = loaded.bad_files
    assert bad.path.endswith("b.yaml") and "the process loading it died: " in str(bad.error)
