"""Results held pickled in a run's parent: made again, the same, for every pass."""
from __future__ import annotations

import pickle

import pytest

from conftest import INVERSE
from gradcheck.catalogue import load_text
from gradcheck.checker import Options, check_identity
from gradcheck.held import NONE, Held, Results
from gradcheck.verdict import ClaimResult, Status


@pytest.fixture(scope="module")
def rows() -> list[ClaimResult]:
    return check_identity(load_text(INVERSE, "inverse.yaml"), Options(trials=1))


def _fields(r: ClaimResult) -> tuple[object, ...]:
    return (r.identity, r.path, r.claim, r.status, r.error, r.noise, r.message, r.nfev, r.comparisons, r.details)


def test_a_file_s_results_come_back_the_same_at_every_pass(rows: list[ClaimResult]) -> None:
    held = Held.of(rows)
    assert len(held) == 2 and [r.status for r in rows] == [Status.PASS, Status.FAIL]
    assert [_fields(r) for r in held] == [_fields(r) for r in rows] == [_fields(r) for r in held]
    assert held == Held.of(iter(rows)) and held != Held.of(rows[:1])  # a generator is taken whole
    assert list(NONE) == [] and len(NONE) == 0
    assert pickle.loads(pickle.dumps(held)) == held  # as a worker sends it


def test_a_run_s_results_in_order_across_files(rows: list[ClaimResult]) -> None:
    first, second = rows
    results = Results([Held.of([first]), NONE, Held.of([second, first]), NONE])
    assert len(results) == 3 and [r.status for r in results] == [Status.PASS, Status.FAIL, Status.PASS]
    assert [results[k].status for k in (0, 1, 2, -1, -3)] == [Status.PASS, Status.FAIL, Status.PASS,
                                                                Status.PASS, Status.PASS]
    assert [r.status for r in results[1:]] == [Status.FAIL, Status.PASS]
    for index in (3, -4):
        with pytest.raises(IndexError):
            results[index]
    assert bool(results) and not Results([]) and not Results([NONE]) and list(Results([])) == []
    assert repr(results) == "Results(3 results in 2 files)"
    assert list(reversed(results))[0].status is Status.PASS and first.claim in [r.claim for r in results]


def test_only_one_file_s_results_are_objects_during_a_pass(rows: list[ClaimResult]) -> None:
    """A pass makes each part's results when it reaches it: nothing of a later part is
    made before the earlier ones are read."""
    made: list[int] = []

    class Counted(Held):
        def __iter__(self):  # type: ignore[no-untyped-def]
            made.append(self.count)
            return super().__iter__()

    parts = [Counted(Held.of(rows).data, 2), Counted(Held.of(rows[:1]).data, 1)]
    walk = iter(Results(parts))
    next(walk)
    assert made == [2]
    assert [r.status for r in walk] == [Status.FAIL, Status.PASS] and made == [2, 1]
