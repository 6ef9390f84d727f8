"""Check identities: sample points, measure every claim, judge.

`check_identity` is the one entry point that every front end (the command
line, the tests) calls. It never raises for a bad identity: failures and
errors are results.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from gradcheck.catalogue import BadFile, Catalogue, Claim, Identity
from gradcheck.errors import ClaimError, GradcheckError, Location
from gradcheck.functions import EvalError
from gradcheck.measure import Measurement, Prober, Settings, measure
from gradcheck.point import Point
from gradcheck.sampling import draw_sample, identity_rng
from gradcheck.verdict import DEFAULT_RTOL, ClaimResult, Status, errored, judge, refuted_result

DEFAULT_SEED = 0
DEFAULT_TRIALS = 3


@dataclass(frozen=True)
class Options:
    """What a run asks for: points, sizes and tolerance."""

    seed: int = DEFAULT_SEED
    trials: int = DEFAULT_TRIALS
    rtol: float = DEFAULT_RTOL
    size: int | None = None  # every dimension
    dims: Mapping[str, int] = field(default_factory=dict)  # one dimension each
    settings: Settings = field(default_factory=Settings)


def check_identity(identity: Identity, options: Options = Options()) -> list[ClaimResult]:
    """Check every claim of `identity` at `options.trials` random points."""
    sizes = identity.sizes(options.dims, options.size)
    samples = identity_rng(options.seed, identity.name)
    directions = identity_rng(options.seed, identity.name + "/directions")
    found: dict[int, list[Measurement]] = {c.index: [] for c in identity.claims}
    failed: dict[int, str] = {}
    refuted: dict[int, str] = {}  # expected failures whose own expression fails
    seconds: dict[int, float] = {c.index: 0.0 for c in identity.claims}
    for trial in range(options.trials):
        try:
            point = Point(identity, draw_sample(identity, sizes, samples, trial))
        except (GradcheckError, EvalError) as exc:
            failed.update({c.index: _message(exc, identity) for c in identity.claims if c.index not in failed})
            break
        prober = Prober(point, options.settings, directions)
        for claim in identity.claims:
            if claim.index in failed or claim.index in refuted:
                continue
            start = time.perf_counter()
            try:
                found[claim.index].append(measure(claim, identity, prober))
            except ClaimError as exc:
                (refuted if claim.expect_fail else failed)[claim.index] = _message(exc, identity)
            except GradcheckError as exc:
                failed[claim.index] = _message(exc, identity)
            seconds[claim.index] += time.perf_counter() - start
    return [refuted_result(identity, c, sizes, refuted[c.index], seconds[c.index]) if c.index in refuted
            else _result(identity, c, sizes, found[c.index], failed.get(c.index), seconds[c.index], options)
            for c in identity.claims]


def _message(exc: Exception, identity: Identity) -> str:
    if isinstance(exc, EvalError):
        return str(GradcheckError(f"{exc} in inputs of {Location(identity.path)}"))
    return str(exc)


def _result(identity: Identity, claim: Claim, sizes: Mapping[str, int], found: list[Measurement],
            message: str | None, seconds: float, options: Options) -> ClaimResult:
    if message is not None:
        return errored(identity.name, identity.path, claim, sizes, message, seconds)
    return judge(identity.name, identity.path, claim, sizes, found, options.rtol, seconds)


def bad_file_result(bad: BadFile) -> ClaimResult:
    """An ERROR row standing for a file that could not be loaded."""
    from gradcheck.expr import parse

    placeholder = Claim(0, "file", parse("0", ()), label="(file)")
    return errored(bad.name or bad.path, bad.path, placeholder, {}, str(bad.error))


def check_catalogue(catalogue: Catalogue, options: Options = Options(),
                    only: str | None = None) -> Iterator[ClaimResult]:
    """Results for every claim in `catalogue` (bad files as ERROR rows), in file order."""
    work: list[tuple[str, Identity | BadFile]] = [(i.path, i) for i in select(catalogue.identities, only)]
    work += [(b.path, b) for b in catalogue.bad_files if only is None or only in (b.name or b.path)]
    for _, item in sorted(work, key=lambda pair: pair[0]):
        if isinstance(item, BadFile):
            yield bad_file_result(item)
        else:
            yield from check_identity(item, options)


def select(identities: Iterable[Identity], only: str | None) -> list[Identity]:
    """Identities whose name contains `only` (all when it is None)."""
    return [i for i in identities if only is None or only in i.name]


def summary(results: Iterable[ClaimResult]) -> dict[Status, int]:
    counts = {s: 0 for s in Status}
    for r in results:
        counts[r.status] += 1
    return counts
