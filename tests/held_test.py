"""Results held pickled in a run's parent: made again, the same, for every pass."""
from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import INVERSE
from gradcheck import held as held_module
from gradcheck.catalogue import load_text
from gradcheck.checker import Options, check_identity
from gradcheck.held import NONE, Held, Results, Spool
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


def test_a_spool_keeps_each_file_s_results_on_disk_and_gives_them_back(rows: list[ClaimResult]) -> None:
    spool = Spool()
    parts = [Held.of(rows), NONE, Held.of(rows[:1]), Held.of(rows[::-1])]
    kept = [spool.keep(p) for p in parts]
    assert [k.data for k in kept] == [b"", NONE.data, b"", b""]  # the bytes left memory
    assert kept[1] is NONE and spool.keep(kept[0]) is kept[0]  # nothing to keep, or kept already
    assert [len(k) for k in kept] == [2, 0, 1, 2]
    for _ in range(2):  # every pass reads them back, in any order
        assert [[_fields(r) for r in k] for k in kept[::-1]] == [[_fields(r) for r in p] for p in parts[::-1]]
    assert [_fields(r) for r in Results(kept)] == [_fields(r) for r in Results(parts)]
    assert kept[0] != kept[3] and kept[0] == Held(b"", 2, kept[0].place)  # told apart by place


def test_a_spool_that_cannot_write_keeps_the_results_in_memory(rows: list[ClaimResult],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(held_module.tempfile, "TemporaryFile", full)
    spool, held = Spool(), Held.of(rows)
    assert spool.keep(held) is held and spool.keep(Held.of(rows[:1])).data == Held.of(rows[:1]).data
    assert [_fields(r) for r in spool.keep(held)] == [_fields(r) for r in rows]


def test_a_run_s_parent_keeps_the_results_in_its_spool(write: Callable[..., Path], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from gradcheck.cli import cli

    kept: list[Held] = []
    keep = Spool.keep
    monkeypatch.setattr(Spool, "keep", lambda self, held: kept.append(keep(self, held)) or kept[-1])
    write(INVERSE, "a/inverse.yaml")
    write(INVERSE.replace("name: wrong-inverse", "name: again"), "b/again.yaml")
    out = tmp_path / "report.json"
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "a"), str(tmp_path / "b"), "--json", str(out)])
    assert result.exit_code == 1, result.output  # INVERSE holds a wrong claim
    assert len(kept) == 2 and all(k.place is not None and k.data == b"" for k in kept)
    assert [r["identity"] for r in json.loads(out.read_text())["results"]] == ["wrong-inverse"] * 2 + ["again"] * 2


def test_a_spool_whose_disk_fills_keeps_what_it_wrote_and_the_rest_in_memory(
        rows: list[ClaimResult], monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    real = tempfile.TemporaryFile
    flushes: list[int] = []

    class Filling:
        def __init__(self) -> None:
            self.file = real()

        def __getattr__(self, name: str) -> object:
            return getattr(self.file, name)

        def flush(self) -> None:
            flushes.append(1)
            if len(flushes) > 1:
                raise OSError(28, "No space left on device")
            self.file.flush()

    monkeypatch.setattr(held_module.tempfile, "TemporaryFile", lambda **kwargs: Filling())
    spool = Spool()
    first, second, third = spool.keep(Held.of(rows)), spool.keep(Held.of(rows[:1])), spool.keep(Held.of(rows))
    assert first.place is not None and second.place is None and third.place is None and len(flushes) == 2
    assert [_fields(r) for r in Results([first, second, third])] == [_fields(r) for r in [*rows, rows[0], *rows]]
