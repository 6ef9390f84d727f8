"""Nested inputs (a pytree): lists, tuples and dicts of arrays, flattened to named leaves
and rebuilt, the way PyTorch and JAX users pass parameters.

A leaf is anything that is not a list, a tuple or a dict (an array, a number, None, a
string). Its path names it the way Python would index it: ``params['W1']``, ``xs[0]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Leaf:
    """One leaf of a tree: where it is (a name) and what it is."""

    path: str
    value: Any


@dataclass(frozen=True)
class Structure:
    """The shape of a tree without its leaves: enough to rebuild it from new leaves."""

    kind: str  # "leaf", "list", "tuple" or "dict"
    children: tuple[Structure, ...] = ()
    keys: tuple[Any, ...] = ()  # a dict's keys, in order
    named: type | None = None  # a named tuple's class

    @property
    def leaves(self) -> int:
        return 1 if self.kind == "leaf" else sum(c.leaves for c in self.children)

    def describe(self) -> str:
        """The structure as a short text, for messages: ``(leaf, {'a': leaf})``."""
        if self.kind == "leaf":
            return "array"
        inner = [c.describe() for c in self.children]
        if self.kind == "dict":
            return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(self.keys, inner)) + "}"
        if self.kind == "list":
            return "[" + ", ".join(inner) + "]"
        return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"


def flatten(tree: Any, path: str) -> tuple[list[Leaf], Structure]:
    """The leaves of `tree` in order (dicts in their own key order) and its structure."""
    leaves: list[Leaf] = []
    return leaves, _flatten(tree, path, leaves)


def _flatten(tree: Any, path: str, out: list[Leaf]) -> Structure:
    if isinstance(tree, dict):
        keys = tuple(tree)
        return Structure("dict", tuple(_flatten(tree[k], f"{path}[{k!r}]", out) for k in keys), keys)
    if isinstance(tree, (list, tuple)):
        kind = "list" if isinstance(tree, list) else "tuple"
        named = type(tree) if kind == "tuple" and hasattr(tree, "_fields") else None
        return Structure(kind, tuple(_flatten(v, f"{path}[{i}]", out) for i, v in enumerate(tree)), named=named)
    out.append(Leaf(path, tree))
    return Structure("leaf")


def unflatten(structure: Structure, leaves: Iterator[Any]) -> Any:
    """The tree of `structure` with the next leaves of `leaves` in place of its own."""
    if structure.kind == "leaf":
        return next(leaves)
    children = [unflatten(c, leaves) for c in structure.children]
    if structure.kind == "dict":
        return dict(zip(structure.keys, children))
    if structure.kind == "list":
        return children
    if structure.named is not None:
        return structure.named(*children)
    return tuple(children)


def matches(tree: Any, structure: Structure) -> bool:
    """Whether `tree` has `structure` (the leaves may be anything)."""
    if structure.kind == "leaf":
        return not isinstance(tree, (dict, list, tuple))
    if structure.kind == "dict":
        return isinstance(tree, dict) and set(tree) == set(structure.keys) and all(
            matches(tree[k], c) for k, c in zip(structure.keys, structure.children))
    if not isinstance(tree, (list, tuple)) or len(tree) != len(structure.children):
        return False
    return all(matches(t, c) for t, c in zip(tree, structure.children))


def leaves_in_order(tree: Any, structure: Structure) -> list[Any]:
    """The leaves of `tree`, which `matches` `structure`, in the structure's order (a
    dict's keys in the order the structure has them, whatever order the tree has)."""
    if structure.kind == "leaf":
        return [tree]
    items = [tree[k] for k in structure.keys] if structure.kind == "dict" else list(tree)
    return [leaf for t, c in zip(items, structure.children) for leaf in leaves_in_order(t, c)]


def leaves(tree: Any) -> list[Any]:
    """The leaves of `tree`, in order."""
    return [leaf.value for leaf in flatten(tree, "")[0]]


def map_leaves(fn: Callable[[Any], Any], tree: Any) -> Any:
    """`tree` with `fn` applied to every leaf."""
    leaves, structure = flatten(tree, "")
    return unflatten(structure, iter([fn(leaf.value) for leaf in leaves]))
