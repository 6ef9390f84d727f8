"""Results as a run's parent holds them until its reports are written: each file's results
pickled, as its worker sent them, and made again for every pass a report makes.

A run's reports need every row in path order, and which files clash (a name twice) only
the whole run can tell, so the parent keeps every result to the end. As objects they
were 2.6 kB a claim (a catalogue ten times the bundled one held 85 MB); pickled they are
0.6 kB, and made again in 26 ms per 2,889 claims, each time a report reads them. A run
keeps them in a `Spool`, a temporary file, as they arrive: its memory does not grow with
the catalogue at all.
"""

from __future__ import annotations

import bisect
import itertools
import os
import pickle
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, overload

if TYPE_CHECKING:
    from gradcheck.verdict import ClaimResult


@dataclass(frozen=True)
class Place:
    """Where a `Spool` keeps one file's pickled results."""

    spool: Spool
    offset: int
    length: int


@dataclass(frozen=True)
class Held:
    """The results of one file, pickled: in `data`, or in a spool at `place`. Iterating
    makes them again; equal results are equal Helds (tests compare them)."""

    data: bytes
    count: int
    place: Place | None = None

    @classmethod
    def of(cls, results: Iterable[ClaimResult]) -> Held:
        rows = list(results)
        return cls(pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL), len(rows))

    def __iter__(self) -> Iterator[ClaimResult]:
        if not self.count:
            return iter(())
        data = self.data if self.place is None else self.place.spool.read(self.place)
        # only what this run's own workers and this process pickled: never a file's bytes
        return iter(pickle.loads(data))  # noqa: S301

    def __len__(self) -> int:
        return self.count


NONE = Held.of([])


class Spool:
    """A run's results kept on disk as they arrive, each file's pickled bytes at a place of
    their own in one temporary file (unlinked from the start: nothing is left behind, and
    no other process can open it). Where no temporary file can be made or written (a
    full disk), the results stay in memory, as they were."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._failed = False

    def keep(self, held: Held) -> Held:
        """`held`, its bytes moved to the spool."""
        if not held.count or held.place is not None or self._failed:
            return held
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="gradcheck-results-")
            offset = self._file.seek(0, os.SEEK_END)
            self._file.write(held.data)
            self._file.flush()  # a full disk is seen here, not when a report reads it back
        except OSError:
            self._failed = True
            return held
        return replace(held, data=b"", place=Place(self, offset, len(held.data)))

    def read(self, place: Place) -> bytes:
        assert self._file is not None  # a place is only made once the file is
        self._file.seek(place.offset)
        data = self._file.read(place.length)
        if len(data) != place.length:
            raise OSError(f"results spool: {len(data)} of {place.length} bytes read back")
        return data


class Results(Sequence["ClaimResult"]):
    """Every result of a run, in order, held as `Held` parts: each pass over them makes
    them again part by part, so that no more than one file's results are objects at a
    time (besides what the pass keeps)."""

    def __init__(self, parts: Iterable[Held]) -> None:
        self._parts = tuple(p for p in parts if p.count)
        self._starts = tuple(itertools.accumulate((p.count for p in self._parts), initial=0))

    def __iter__(self) -> Iterator[ClaimResult]:
        for part in self._parts:
            yield from part

    def __len__(self) -> int:
        return self._starts[-1]

    @overload
    def __getitem__(self, index: int) -> ClaimResult: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[ClaimResult]: ...

    def __getitem__(self, index: int | slice) -> ClaimResult | Sequence[ClaimResult]:
        if isinstance(index, slice):
            return list(self)[index]
        if not -len(self) <= index < len(self):
            raise IndexError("result index out of range")
        index %= len(self)
        k = bisect.bisect_right(self._starts, index) - 1
        return list(self._parts[k])[index - self._starts[k]]

    def __repr__(self) -> str:
        return f"Results({len(self)} results in {len(self._parts)} files)"
