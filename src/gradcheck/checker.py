"""Check identities: sample points, measure every claim, judge.

`check_identity` is the one entry point that every front end (the command
line, the tests) calls. It never raises for a bad identity: failures and
errors are results.

A point at which some claim cannot be judged (the numerical derivative is too
noisy: f is not smooth there, or an inverted matrix is nearly singular) is
replaced by a new one, up to `trials` extra points; the result says so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from gradcheck import forms, threads
from gradcheck.catalogue import (
    BadFile,
    Catalogue,
    Claim,
    Entry,
    Found,
    Identity,
    is_identity_file,
    load_item,
    settled,
)
from gradcheck.diagnosis import diagnosed
from gradcheck.differences import Differences
from gradcheck.errors import ClaimError, EvalError, GradcheckError, LayoutSlip, Location, NonFiniteError
from gradcheck.expr import quiet
from gradcheck.forms import Probing
from gradcheck.held import NONE, Held, Results
from gradcheck.options import Limits, applied
from gradcheck.options import Options as Options  # re-exported: the run options
from gradcheck.point import Point
from gradcheck.probes import ProbeSets
from gradcheck.reading import Reading
from gradcheck.sampling import Sample, draw_sample, identity_rng
from gradcheck.verdict import (
    ClaimResult,
    Status,
    disagreeing,
    errored,
    file_error,
    judge,
    not_zero,
    passes,
    passes_quickly,
    refuted_result,
    slipped_result,
    unjudgeable,
    visible,
    within_reach,
    zero_judged,
)

if TYPE_CHECKING:
    from gradcheck.supervisor import Lost


def choose_method(identity: Identity, requested: str) -> tuple[str, str]:
    """The numerical method to use for `identity`, and a note when it differs from the request.

    The complex step needs f to be complex-analytic; that is decided from the
    expression trees of the function and its lets.
    """
    blockers = set(identity.function.nonanalytic).union(*(e.nonanalytic for _, e in identity.lets))
    if identity.complex_values:  # a complex step along complex values would mix with them
        if requested == "complex":
            return "central", "complex step not valid with complex inputs: used central differences"
        return ("central" if requested == "auto" else requested), ""
    if requested == "auto":  # the complex step costs one evaluation a direction, central four
        return ("central" if blockers else "complex"), ""
    if requested == "complex" and blockers:
        return "central", (f"complex step not valid (f uses {', '.join(sorted(blockers))}, which is not "
                           "complex-analytic): used central differences")
    return requested, ""


@dataclass
class _Progress:
    """What is known about each claim while points are drawn."""

    claims: tuple[Claim, ...]
    found: dict[int, list[Reading]] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    refuted: dict[int, str] = field(default_factory=dict)
    slipped: dict[int, str] = field(default_factory=dict)  # a derivative in the other layout's shape
    seconds: dict[int, float] = field(default_factory=dict)
    # claims that failed at a point where they could be judged: every reading must pass, so
    # no further point can change their verdict, and they are not measured again
    decided: set[int] = field(default_factory=set)

    def pending(self) -> list[Claim]:
        return [c for c in self.claims
                if c.index not in self.failed and c.index not in self.refuted and c.index not in self.slipped
                and c.index not in self.decided]


Sampler = Callable[[Mapping[str, int], int], Sample]
PointMaker = Callable[[Identity, Sample], Point]


def check_identity(identity: Identity, options: Options = Options(), sampler: Sampler | None = None,
                   point: PointMaker = Point) -> list[ClaimResult]:
    """Check every claim of `identity` at `options.trials` random points (or at the points
    `sampler(sizes, trial)` gives), under `options.limits`. `point` builds the point at a
    sample (a benchmark plants errors in the claims through it)."""
    sizes = identity.sizes(options.dims, options.size)
    order = max((max(v.sized(sizes), default=1) for v in (*identity.inputs, *identity.constants)), default=1)
    with applied(options.limits), quiet(), threads.chosen(order):
        return _check(identity, options, sampler, point)


def _check(identity: Identity, options: Options, sampler: Sampler | None, make_point: PointMaker) -> list[ClaimResult]:
    sizes = identity.sizes(options.dims, options.size)
    method, method_note = choose_method(identity, options.method)
    samples = identity_rng(options.seed, identity.name)
    if sampler is None:
        sampler = lambda sizes, trial: draw_sample(identity, sizes, samples, trial)  # noqa: E731
    directions = identity_rng(options.seed, identity.name + "/directions")
    progress = _Progress(identity.claims, found={c.index: [] for c in identity.claims},
                         seconds={c.index: 0.0 for c in identity.claims})
    judged = drawn = 0
    resampled: list[str] = []
    escalated: set[str] = set()
    while judged < options.trials and drawn < 2 * options.trials:
        drawn += 1
        try:
            point = make_point(identity, sampler(sizes, drawn - 1))
        except GradcheckError as exc:
            progress.failed.update({c.index: _message(exc, identity) for c in progress.pending()})
            break
        last_chance = drawn == 2 * options.trials
        reason = point.ill_conditioned()
        if reason and not last_chance:
            resampled.append(reason)
            continue
        if reason:
            message = f"cannot judge at any point tried: {reason}"
            progress.failed.update({c.index: message for c in progress.pending()})
            break
        methods = [method, *_escalations(identity, method)]
        measured, reason = _judgeable_readings(identity, point, methods, directions, options, progress)
        escalated |= {m.method for m in measured.values() if m.method not in (method, "exact")}
        if reason and not last_chance:
            resampled.append(reason)
            continue
        for index, m in measured.items():
            progress.found[index].append(m)
            if not _rank(m, options) and not passes(m, options.rtol):
                progress.decided.add(index)
        judged += 1
        if not progress.pending():
            break
    notes = tuple(filter(None, [method_note, _escalation_note(method, escalated), _resample_note(resampled)]))
    return [_result(identity, c, sizes, progress, options, notes) for c in identity.claims]


def _escalations(identity: Identity, method: str) -> list[str]:
    """Other methods to try, in order, when `method` cannot judge a claim at a point: the
    complex step (exact, where valid), then the other difference schemes (Richardson's
    larger steps beat rounding noise; central's smaller steps beat fast-varying f)."""
    others = [m for m in ("complex", "richardson", "central") if m != method]
    return [m for m in others if choose_method(identity, m)[0] == m]


def _judgeable_readings(identity: Identity, point: Point, methods: list[str], directions: Any,
                            options: Options, progress: _Progress) -> tuple[dict[int, Reading], str | None]:
    """Measure the pending claims at `point`; claims too noisy to judge are measured again
    with the next method of `methods`. Returns the readings and, if some claim still
    cannot be judged here, why."""
    claims = progress.pending()
    measured: dict[int, Reading] = {}
    seen: dict[int, set[str]] = {}  # where some method saw a claim's derivative above its noise
    probings: dict[str, Probing] = {}
    probes = ProbeSets(point, options.numerics, directions)  # the same directions for every method

    def probing(method: str) -> Probing:
        if method not in probings:
            probings[method] = Probing(point, probes, Differences(point, method, options.numerics))
        return probings[method]

    ranks: dict[int, int] = {}
    for k, method in enumerate(methods):
        fallback = k + 1 < len(methods)
        for index, m in _measure_point(identity, probing(method), progress, claims, options, fallback).items():
            seen.setdefault(index, set()).update(visible(m))
            rank = _rank(m, options)
            if index not in measured or rank < ranks[index]:
                measured[index], ranks[index] = m, rank
        # a derivative judged zero is measured again too (another method may see it), and
        # so is a claim this method could not measure
        claims = [c for c in progress.pending() if c in claims and ranks.get(c.index, 2)]
        if not claims:
            break
    # "Zero" below the noise of one method is no verdict when another method sees the
    # derivative (a single large term, logsumexp(x + 1e9), hides it from central steps)
    for index in (i for i, r in ranks.items() if r == 1):
        measured[index] = not_zero(measured[index], seen.get(index, set()))
    for claim in progress.pending():
        if claim.index in measured:
            measured[claim.index] = _confirmed(identity, claim, measured[claim.index], methods, probing, options,
                                               progress)
    reasons = (unjudgeable(m, options.max_noise, options.rtol) for m in measured.values())
    return measured, next(filter(None, reasons), None)


def _confirmed(identity: Identity, claim: Claim, m: Reading, methods: list[str],
               probing: Callable[[str], Probing], options: Options, progress: _Progress) -> Reading:
    """A failure, measured again by the next method that can judge the claim at this point.

    A difference quotient's error estimate assumes that f is smooth at the scale of its
    steps; f may vary faster (a tiny fast oscillation whose slope dominates), and a right
    claim would then fail "because of a step size". Where the other method agrees, or
    cannot judge, the failure stands; where it passes the claim, the complex step is
    believed (it takes no real step and is exact where it is valid), and otherwise the
    disagreement makes the claim unjudgeable here. Failures are rare, so this costs little."""
    if _rank(m, options) or passes(m, options.rtol) or m.method in ("exact", "complex"):
        return m  # (a complex step's failure stands whatever another method says)
    for method in methods:
        if method == m.method:
            continue
        other = _measure_point(identity, probing(method), progress, [claim], options, fallback=True).get(claim.index)
        if other is None or _rank(other, options):
            continue
        if not passes(other, options.rtol):
            return m
        return other if method == "complex" else disagreeing(m, other)
    return m


def _rank(m: Reading, options: Options) -> int:
    """0 for numbers that judge the claim, 1 for a derivative judged zero (below its noise),
    2 for numbers too noisy to judge it."""
    if unjudgeable(m, options.max_noise, options.rtol):
        return 2
    return 1 if zero_judged(m, options.max_noise) else 0


def _escalation_note(method: str, used: set[str]) -> str:
    if not used:
        return ""
    return f"{method} could not judge at some points; used {', '.join(sorted(used))} there"


def _measure_point(identity: Identity, at: Probing, progress: _Progress, claims: list[Claim], options: Options,
                   fallback: bool = False) -> dict[int, Reading]:
    """Measure `claims`; with `fallback`, a value that is not finite at a perturbed point
    leaves the claim unmeasured for the next method (a complex step can overflow where a
    real one does not) instead of failing it."""
    measured: dict[int, Reading] = {}
    for claim in claims:
        if claim.index in progress.failed or claim.index in progress.refuted or claim.index in progress.slipped:
            continue
        start = time.perf_counter()
        try:
            measured[claim.index] = _read(claim, identity, at, options.rtol, options.max_noise)
        except LayoutSlip as slip:
            target = progress.refuted if claim.expect_fail else progress.slipped
            target[claim.index] = _layout_slip(claim, identity, at, options, slip.other)
        except ClaimError as exc:
            target = progress.refuted if claim.expect_fail else progress.failed
            target[claim.index] = _message(exc, identity)
        except NonFiniteError as exc:
            if not fallback:
                progress.failed[claim.index] = _message(exc, identity)
        except GradcheckError as exc:
            progress.failed[claim.index] = _message(exc, identity)
        progress.seconds[claim.index] += time.perf_counter() - start
    return measured


# The forms whose numbers are first derivatives, which central differences can take at one
# step size first (`Differences.quickly`).
QUICK_FORMS = frozenset({"derivative", "differential", "jvp", "vjp"})


def _read(claim: Claim, identity: Identity, at: Probing, rtol: float, max_noise: float) -> Reading:
    """A claim's reading at the point of `at`, ready to leave it. Under central
    differences it is first read from one step size (`Differences.quickly`), and a claim
    that passes there by a margin passes (it would with both: `passes_quickly`); others
    are read again with both. Before a claim fails, its own rounding sensitivity joins the
    error estimate (and the numbers' and each part's, where more uncertainty could still
    let it pass: a wrong claim off by 1e-3 does not pay for them); a claim that still
    fails gets its other readings for the diagnosis (these cost evaluations, so only
    failures pay)."""
    quick = None
    if at.numbers.quickens and claim.form in QUICK_FORMS:
        with at.numbers.quickly():
            quick = forms.measure(claim, identity, at)
        if passes_quickly(quick, rtol, max_noise):
            return forms.settled(quick)
    reading = forms.measure(claim, identity, at)
    if quick is not None:  # its evaluations are this reading's too (the steps at h/2 were kept)
        reading = replace(reading, nfev=reading.nfev + quick.nfev)
    if not passes(reading, rtol):
        reading = forms.refined(reading, claim, at, thorough=within_reach(reading, rtol, max_noise))
    if not passes(reading, rtol):
        return forms.explained(reading)
    return forms.settled(reading)


def _layout_slip(claim: Claim, identity: Identity, at: Probing, options: Options, other: str) -> str:
    """What a derivative written in the other layout's shape is: the claim read in that
    layout, judged at this point like any other."""
    try:
        reading = _read(replace(claim, layout=other), identity, at, options.rtol, options.max_noise)
        holds = passes(reading, options.rtol)
    except GradcheckError:
        holds = False
    if holds:
        return (f"it holds in layout {other}: the claimed shape is layout {other}'s (in layout "
                f"{claim.layout} the derivative is its transpose)")
    return f"it has the shape of layout {other}, not {claim.layout}, and does not hold in layout {other} either"


def _resample_note(reasons: list[str]) -> str:
    if not reasons:
        return ""
    return f"resampled {len(reasons)} point{'s' * (len(reasons) > 1)}: {reasons[0]}"


def _message(exc: Exception, identity: Identity) -> str:
    if isinstance(exc, EvalError):
        return str(GradcheckError(f"{exc} in inputs of {Location(identity.path)}"))
    return str(exc)


def _result(identity: Identity, claim: Claim, sizes: Mapping[str, int], progress: _Progress,
            options: Options, notes: tuple[str, ...]) -> ClaimResult:
    seconds = progress.seconds[claim.index]
    if claim.index in progress.refuted:
        return refuted_result(identity, claim, sizes, progress.refuted[claim.index], seconds)
    if claim.index in progress.failed:
        return errored(identity.name, identity.path, claim, sizes, progress.failed[claim.index], seconds)
    if claim.index in progress.slipped:
        return slipped_result(identity, claim, sizes, progress.slipped[claim.index], seconds)
    readings = progress.found[claim.index]
    if claim.index in progress.decided and len(readings) < options.trials:
        notes = (*notes, f"failed at trial {readings[-1].trial + 1}: not measured at further points "
                 "(one failure decides)")
    result = judge(identity.name, identity.path, claim, sizes, readings, options.rtol,
                   seconds, options.max_noise, notes)
    return diagnosed(result, options.rtol)


def bad_file_result(bad: BadFile) -> ClaimResult:
    """An ERROR row standing for a file that could not be loaded."""
    return file_error(bad.name or bad.path, bad.path, str(bad.error),
                      bad.error.location.line if bad.error.location is not None else None)


def check_catalogue(catalogue: Catalogue, options: Options = Options(), only: str | None = None,
                    jobs: int = 1, supervise: bool = False) -> Generator[list[ClaimResult], None, None]:
    """Results for every identity in `catalogue` (a bad file as one ERROR row), in file order.

    With `supervise` (or `jobs` > 1) identities are checked in `jobs` worker processes that
    this one watches (gradcheck.supervisor): a worker that dies or is stuck in a native call
    past the timeout is an ERROR row for its identity, and the run goes on. Each identity's
    generator depends only on the seed and its name, so the results are the same.
    """
    work: list[tuple[str, Identity | BadFile]] = [(i.path, i) for i in select(catalogue.identities, only)]
    work += [(b.path, b) for b in catalogue.bad_files if chosen(only, b)]
    items = [item for _, item in sorted(work, key=lambda pair: pair[0])]
    # batches come in the order of `items`
    for item, batch in zip(items, _checked(items, options, jobs, supervise)):
        yield _shown(item, batch, only)


def _shown(item: Identity | BadFile, batch: list[ClaimResult], only: str | None) -> list[ClaimResult]:
    """An identity chosen by one claim's label shows that claim only."""
    return [r for r in batch if r.claim is None or chosen(only, item, r.claim)]


@dataclass(frozen=True)
class Checked:
    """One file of a run, loaded and checked in a worker: what settling the run reads of it
    (its identity's entry or the bad file it is; None: not an identity file, with
    `identity_files_only`), whether `only` chose it, and the results of what `only` chose,
    as a run's reports read them (see `_for_reports`), pickled (see gradcheck.held). The
    identity itself stays in the worker: a parent that held every one held 13 kB a file
    to the end of the run."""

    path: str
    item: Entry | BadFile | None
    results: Held = NONE
    chosen: bool = False


@dataclass(frozen=True)
class Collected:
    """What the files of a run make: the identities kept (their entries, in path order),
    the bad files (as `settled` finds them), whether `only` chose any identity kept, and
    every result in path order (held pickled, see gradcheck.held)."""

    entries: tuple[Entry, ...]
    bad_files: tuple[BadFile, ...]
    chosen: bool
    results: Results


def check_files(found: Found, options: Options = Options(), only: str | None = None, jobs: int = 1,
                identity_files_only: bool = False) -> Generator[Checked, None, None]:
    """Every file of `found` loaded and checked in `jobs` worker processes that this one
    supervises, in the order of `found.files`. The parent neither reads nor parses: the
    workers load the files as they check them, so loading is shared among them as the
    checks are. Which files clash (a name twice, an unknown `uses`) only the whole set can
    tell: `collected` settles it afterwards."""
    from gradcheck.supervisor import supervised

    files = [str(f) for f in found.files]
    if files:
        yield from supervised(files, partial(_load_and_check, options=options, only=only,
                                             identity_files_only=identity_files_only),
                              partial(_lost_file, options=options, only=only,
                                      identity_files_only=identity_files_only),
                              jobs=jobs, limit=options.timeout, initializer=partial(_worker_init, options.limits, jobs))


def _loaded(path: str, options: Options, identity_files_only: bool) -> Identity | BadFile | None:
    """The file at `path` (None: not an identity file, with `identity_files_only`)."""
    if identity_files_only and not is_identity_file(path, options.limits):
        return None
    return load_item(path, options.limits)


def _load_and_check(path: str, options: Options, only: str | None, identity_files_only: bool) -> Checked:
    item = _loaded(path, options, identity_files_only)
    if item is None or not chosen(only, item):
        return Checked(path, _entry(item))
    return Checked(path, _entry(item), Held.of(_for_reports(r) for r in _shown(item, _check_item(item, options), only)),
                   True)


def _entry(item: Identity | BadFile | None) -> Entry | BadFile | None:
    return item.entry if isinstance(item, Identity) else item


def _for_reports(result: ClaimResult) -> ClaimResult:
    """A result without its readings, which a run's reports do not read (a chain's or a
    derivation's steps are figured in the result): their arrays were 96 % of what the
    workers sent back, and the parent held all of them to the end."""
    return replace(result, readings=()) if result.readings else result


def _lost_file(path: str, why: Lost, options: Options, only: str | None, identity_files_only: bool) -> Checked:
    """The rows of a file whose worker died or was killed: loaded again here (loading is
    bounded by the limits; checking is what runs in workers) to name its claims."""
    item = _loaded(path, options, identity_files_only)
    if item is None or not chosen(only, item):
        return Checked(path, _entry(item))
    rows = [bad_file_result(item)] if isinstance(item, BadFile) else _lost(item, why, options)
    return Checked(path, _entry(item), Held.of(_shown(item, rows, only)), True)


def collected(found: Found, checked: Iterable[Checked], only: str | None = None) -> Collected:
    """What the files of a `check_files` run make, settled as `load_catalogue` settles
    them (see `settled`), and every result in path order (as `check_catalogue` gives
    them): a file whose identity clashes with another file's is its bad file's row, not
    its results."""
    done = [c for c in checked if c.item is not None]
    entries, bad_files = settled(found, [c.item for c in done if c.item is not None])
    bad = {b.path: b for b in bad_files}
    rows = [(c.path, Held.of([bad_file_result(bad[c.path])]) if chosen(only, bad[c.path]) else NONE)
            if isinstance(c.item, Entry) and c.path in bad else (c.path, c.results) for c in done]
    loaded = {c.path for c in done}
    rows += [(b.path, Held.of([bad_file_result(b)])) for b in bad_files if b.path not in loaded and chosen(only, b)]
    kept = {e.path for e in entries}
    return Collected(entries, bad_files, any(c.chosen and c.path in kept for c in done),
                     Results(held for _, held in sorted(rows, key=lambda pair: pair[0])))


def _checked(items: list[Identity | BadFile], options: Options, jobs: int,
             supervise: bool) -> Generator[list[ClaimResult], None, None]:
    if (supervise or jobs > 1) and items:
        yield from _in_workers(items, options, jobs)
    else:
        for item in items:
            yield _check_item(item, options)


def check_supervised(identity: Identity, options: Options) -> list[ClaimResult]:
    """One identity checked in a worker process of its own (verify, check, the pytest
    plugin): killed and reported as ERROR rows if it runs past `options.timeout` inside a
    native call, or dies."""
    return next(_in_workers([identity], options, 1))


def _in_workers(items: list[Identity | BadFile], options: Options, jobs: int) -> Iterator[list[ClaimResult]]:
    from gradcheck.supervisor import supervised

    # The limits travel inside `options`, with every item: a worker started by spawn or
    # forkserver (macOS, Windows, Linux from Python 3.14) imports gradcheck afresh.
    return supervised(items, partial(_check_item, options=options), partial(_lost, options=options),
                      jobs=jobs, limit=options.timeout, initializer=partial(_worker_init, options.limits, jobs))


def _worker_init(limits: Limits = Limits(), jobs: int = 1) -> None:
    """Workers run BLAS on their share of the cores (see gradcheck.threads): a forked
    worker inherits the parent's OpenBLAS pool of one thread per core, and two such pools
    on two cores spin against each other (the catalogue's CPU time doubled). Their
    address space is capped at `limits.max_memory`:
    the element limit bounds each array, this bounds them all together (25 lets of
    5000 x 5000 are each within the limit, and 5 GB together), and a check that reaches
    it gets MemoryError, its identity's ERROR row. Their heaps keep freed arrays for
    the next probe (see gradcheck.heap)."""
    import resource

    from gradcheck.heap import keep_freed
    from gradcheck.supervisor import available_cores

    threads.pin(available_cores() // max(1, jobs))
    keep_freed()  # large arrays reused, not mapped and zeroed afresh at every probe
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = limits.max_memory if hard == resource.RLIM_INFINITY else min(limits.max_memory, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _lost(item: Identity | BadFile, why: Lost, options: Options) -> list[ClaimResult]:
    """The ERROR rows of an identity whose worker died or was killed at its deadline."""
    if isinstance(item, BadFile):
        return [bad_file_result(item)]
    if why.reason == "deadline":
        message = f"stopped after {options.timeout:g} s (--timeout): killed inside a call that did not return"
    else:
        message = f"the process checking it died: {why.detail}"
    return _every_claim(item, options, message)


def _every_claim(identity: Identity, options: Options, message: str) -> list[ClaimResult]:
    return [errored(identity.name, identity.path, c, identity.sizes(options.dims, options.size), message)
            for c in identity.claims]


class Timeout(BaseException):
    """Raised by the alarm when an identity runs past `Options.timeout` (a BaseException,
    so that no handler of ordinary errors catches it on the way out)."""


def _check_item(item: Identity | BadFile, options: Options) -> list[ClaimResult]:
    if isinstance(item, BadFile):
        return [bad_file_result(item)]
    with time_limit(options.timeout):
        try:
            return check_identity(item, options)
        except Timeout:
            return _every_claim(item, options, f"stopped after {options.timeout:g} s (--timeout)")
        except (MemoryError, RecursionError) as exc:
            what = (f"memory (over --max-memory {options.limits.max_memory >> 20} MB)" if isinstance(exc, MemoryError)
                    else "stack")
            return _every_claim(item, options, f"ran out of {what}")
        except Exception as exc:  # a bug: this identity's rows say so, the others stand
            return _every_claim(item, options, f"internal error (a bug) while checking it: {_bug(exc)}")


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise Timeout in this thread after `seconds` (POSIX main thread only; else no limit).
    A single long NumPy call finishes before the alarm is seen; the size limits bound those."""
    usable = (seconds and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def ring(signum: int, frame: object) -> None:
        raise Timeout

    assert seconds is not None  # `usable` above
    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _bug(exc: BaseException) -> str:
    """A bug's one-line account: its type, message and the innermost frame of gradcheck."""
    import traceback

    if os.environ.get("GRADCHECK_DEBUG"):  # gradcheck --debug: the whole traceback, on stderr
        traceback.print_exception(exc)
        return f"{type(exc).__name__}: {exc} (its traceback is printed above)"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "gradcheck" in f.filename]
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where} (--debug shows the traceback)"


def chosen(only: str | None, identity: Identity | BadFile, claim: Claim | None = None) -> bool:
    """The -k rule of `gradcheck run` and of pytest alike: `only` found, ignoring case, in the
    identity's name, its file's name or the claim's test name ("claim 2: derivative wrt X
    (numerator)", its label if it has one). With no claim: whether any of its claims is."""
    if only is None:
        return True
    needle = only.lower()
    fields = [identity.name or "", os.path.basename(identity.path)]
    if isinstance(identity, Identity):
        claims = [claim] if claim is not None else list(identity.claims)
        fields += [c.test_name() for c in claims]
    return any(needle in f.lower() for f in fields)


def select(identities: Iterable[Identity], only: str | None) -> list[Identity]:
    """Identities with a claim chosen by `only` (all when it is None)."""
    return [i for i in identities if chosen(only, i)]


def summary(results: Iterable[ClaimResult]) -> dict[Status, int]:
    counts = {s: 0 for s in Status}
    for r in results:
        counts[r.status] += 1
    return counts
