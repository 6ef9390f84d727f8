from __future__ import annotations

import pytest
import yaml

from gradcheck import yamlsafe
from gradcheck.errors import CatalogueError


def test_lines_are_kept_for_every_key() -> None:
    doc = yamlsafe.read("name: a\ninputs:\n  X: {shape: [n]}\n", "f.yaml")
    assert doc.data == {"name": "a", "inputs": {"X": {"shape": ["n"]}}}
    assert doc.line(("inputs", "X", "shape")) == 3
    assert doc.line(("name",)) == 1
    assert doc.line(("inputs", "Y")) == 2  # the closest ancestor that exists


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("!!python/object/apply:os.system ['touch /tmp/x']",
         "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed in top level of f.yaml, line 1"),
        ("a: !!binary aGVsbG8=", "YAML tag 'tag:yaml.org,2002:binary' is not allowed in a of f.yaml, line 1"),
        ("a: 1\na: 2\n", "duplicate key 'a' in a of f.yaml, line 2"),
        ("a: [1, 2\nb: 3", "malformed YAML (expected ',' or ']', but got ':') in f.yaml, line 2"),
        ("", "file is empty in f.yaml"),
        ("? [a, b]\n: 1\n", "mapping keys must be plain names in top level of f.yaml, line 1"),
    ],
)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        yamlsafe.read(text, "f.yaml")
    assert str(info.value) == message


def test_alias_bomb_is_stopped() -> None:
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i, name in enumerate("bcdefghij"):
        prev = "abcdefghij"[i]
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    with pytest.raises(CatalogueError, match="more than 100,000 nodes"):
        yamlsafe.read("\n".join(lines), "f.yaml")


def test_size_limit() -> None:
    with pytest.raises(CatalogueError, match="over the limit of 1,000,000"):
        yamlsafe.read("a: " + "x" * 1_000_001, "f.yaml")


def test_nesting_limit() -> None:
    with pytest.raises(CatalogueError, match="nested more than 50 levels"):
        yamlsafe.read("a: " + "[" * 60 + "]" * 60, "f.yaml")


@pytest.mark.parametrize("text", [
    "a: " + "[" * 300_000 + "]" * 300_000,
    "a: " + "{b: " * 150_000 + "1" + "}" * 150_000,
    "[" * 900_000,  # never closed
])
def test_deep_nesting_is_refused_before_it_is_composed(text: str) -> None:
    # libyaml's composer recurses in C without a limit: this depth would crash it.
    with pytest.raises(CatalogueError, match=r"nested more than 50 levels deep in f.yaml, line 1"):
        yamlsafe.read(text, "f.yaml")


def test_the_fast_parser_is_used_where_pyyaml_has_it() -> None:

    assert yamlsafe._LOADER is (yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)


class _RefusingLoader(yaml.SafeLoader):
    """A parser that refuses every document at once, as libyaml's scanner refuses deep flow nesting."""

    def check_event(self, *choices: object) -> bool:
        raise yaml.scanner.ScannerError("while increasing flow level", None, "exceeded maximum nesting depth")


@pytest.mark.parametrize("loader", [yaml.SafeLoader, _RefusingLoader])
@pytest.mark.parametrize("text", ["a: " + "[" * 300_000 + "]" * 300_000, "[" * 900_000])
def test_the_depth_check_holds_whatever_the_fast_parser_does_first(
        monkeypatch: pytest.MonkeyPatch, loader: type, text: str) -> None:
    monkeypatch.setattr(yamlsafe, "_LOADER", loader)
    with pytest.raises(CatalogueError, match=r"nested more than 50 levels deep in f.yaml, line 1"):
        yamlsafe.read(text, "f.yaml")


def test_a_document_the_fast_parser_refuses_is_explained_by_the_python_parser(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsafe, "_LOADER", _RefusingLoader)
    with pytest.raises(CatalogueError) as info:
        yamlsafe.read("a: [1, 2\nb: 3", "f.yaml")
    assert str(info.value) == "malformed YAML (expected ',' or ']', but got ':') in f.yaml, line 2"
