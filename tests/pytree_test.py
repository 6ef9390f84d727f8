"""Trees of arrays: flattened to named leaves and rebuilt."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from gradcheck.pytree import flatten, leaves_in_order, map_leaves, matches, unflatten

Pair = namedtuple("Pair", "left right")


def test_leaves_are_named_as_python_indexes_them() -> None:
    tree = {"W": np.ones(2), "layers": [np.zeros(1), (np.eye(2), 3.0)]}
    leaves, structure = flatten(tree, "p")
    assert [leaf.path for leaf in leaves] == ["p['W']", "p['layers'][0]", "p['layers'][1][0]", "p['layers'][1][1]"]
    assert structure.leaves == 4
    assert structure.describe() == "{'W': array, 'layers': [array, (array, array)]}"


def test_unflatten_rebuilds_lists_tuples_dicts_and_named_tuples() -> None:
    tree = {"a": [1, 2], "b": (3,), "c": Pair(4, 5)}
    leaves, structure = flatten(tree, "t")
    rebuilt = unflatten(structure, iter([leaf.value * 10 for leaf in leaves]))
    assert rebuilt == {"a": [10, 20], "b": (30,), "c": Pair(40, 50)}
    assert isinstance(rebuilt["c"], Pair)


def test_matches_ignores_dict_order_but_not_keys_or_lengths() -> None:
    _, structure = flatten({"a": 1, "b": [2, 3]}, "")
    assert matches({"b": [0, 0], "a": 0}, structure)
    assert leaves_in_order({"b": [8, 9], "a": 7}, structure) == [7, 8, 9]
    assert not matches({"a": 0}, structure)
    assert not matches({"a": 0, "b": [0]}, structure)
    assert not matches({"a": [0], "b": [0, 0]}, structure)
    assert not matches([0, 0], structure)


def test_a_single_array_is_one_leaf() -> None:
    leaves, structure = flatten(np.ones(3), "x")
    assert [leaf.path for leaf in leaves] == ["x"] and structure.kind == "leaf"
    assert structure.describe() == "array"
    assert map_leaves(lambda a: a * 2, [np.ones(1), {"k": 2.0}])[1] == {"k": 4.0}
