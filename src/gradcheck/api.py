"""Checking derivatives written as Python functions: a NumPy, PyTorch or JAX user's
backward pass, with the same judge and diagnosis as the command line.

>>> import numpy as np, gradcheck
>>> X = np.array([[2.0, 1.0], [0.5, 3.0]])
>>> result = gradcheck.check(lambda X: np.log(np.linalg.det(X)), lambda X: np.linalg.inv(X).T, X)
>>> result.status.value
'PASS'
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from gradcheck import pyfunc
from gradcheck.catalogue import Identity, Variable
from gradcheck.checker import Timeout, check_identity, time_limit
from gradcheck.errors import EvaluationError
from gradcheck.kinds import KINDS, shape_problem
from gradcheck.options import Options
from gradcheck.pytree import flatten, unflatten
from gradcheck.sampling import Sample, draw_variable, identity_rng
from gradcheck.verdict import DEFAULT_RTOL, ClaimResult, Status

# A function that computes in single precision (float32 out of float64 arguments) is
# judged by central differences with steps sized for float32's eps (truncation and
# rounding balance near 1e-5 relative); the tolerance and the noise a point may have are
# set from float32's eps too. The result says what it could see.
SINGLE_EPS = float(np.finfo(np.float32).eps)
SINGLE_STEP_FACTOR = (SINGLE_EPS / float(np.finfo(np.float64).eps)) ** (1 / 3)
SINGLE_RTOL = 64 * SINGLE_EPS
SINGLE_MAX_NOISE = 1e-2
DEFAULT_SPREAD = 0.1  # extra trials: points this far from the one given, relative to its entries

Wrt = int | str | Sequence[int | str] | None


@dataclass(frozen=True)
class Result:
    """The verdict on a derivative written as Python functions.

    One claim is judged for each real input (a complex input has two: its real and its
    imaginary part); `status` is the worst of theirs, and `error`, `noise`, `hint`,
    `message` and `method` are those of the worst part. `str(result)` (and the
    AssertionError of `raise_for_status`) is the full explanation.
    """

    status: Status
    parts: tuple[ClaimResult, ...] = ()
    problem: str = ""  # why nothing could be judged (f failed at the point given)
    notes: tuple[str, ...] = ()
    call: str = ""  # how the check was called, to reproduce it

    @property
    def worst(self) -> ClaimResult | None:
        order = {Status.ERROR: 0, Status.FAIL: 1, Status.XPASS: 2, Status.XFAIL: 3, Status.PASS: 4}
        return min(self.parts, key=lambda r: (order[r.status], -(r.error or 0.0)), default=None)

    @property
    def ok(self) -> bool:
        return self.status is Status.PASS

    @property
    def error(self) -> float | None:
        return self.worst.error if self.worst else None

    @property
    def noise(self) -> float | None:
        return self.worst.noise if self.worst else None

    @property
    def hint(self) -> str:
        return self.worst.hint if self.worst else ""

    @property
    def method(self) -> str:
        return self.worst.method if self.worst else ""

    @property
    def message(self) -> str:
        if self.problem:
            return self.problem
        return self.worst.message if self.worst else ""

    def explain(self) -> str:
        """Every part's verdict, error and noise floor, the diagnosis, the worst entry, the
        notes, and how to reproduce the check: several lines."""
        lines = [f"gradcheck: {self.status.value}" + (f": {self.problem}" if self.problem else "")]
        for part in self.parts:
            lines.extend(_part_lines(part))
        lines.extend(f"note: {n}" for n in self.notes)
        if self.call:
            lines.append(f"reproduce: {self.call}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()

    def raise_for_status(self) -> Result:
        """This result, if it passed; else an AssertionError with the full explanation."""
        if not self.ok:
            raise AssertionError(self.explain())
        return self


def combined(results: Sequence[Result]) -> Result:
    """One result of several checks of the same function (a backward and a forward pass)."""
    if len(results) == 1:
        return results[0]
    parts = tuple(p for r in results for p in r.parts)
    problems = "; ".join(dict.fromkeys(r.problem for r in results if r.problem))
    status = Status.ERROR if problems else _overall(parts)
    return Result(status, parts, problems, tuple(dict.fromkeys(n for r in results for n in r.notes)),
                  " and ".join(r.call for r in results))


def _part_lines(part: ClaimResult) -> list[str]:
    what = part.description
    if part.status is Status.ERROR:
        return [f"  {what}: ERROR: {part.message}"]
    head = f"  {what}: {part.status.value}"
    if part.error is not None:
        head += f", relative error {part.error:.1e} (noise floor {part.noise or 0.0:.1e}, {part.method})"
    lines = [head]
    if part.hint:
        lines.append(f"    diagnosis: {part.hint}")
    lines.extend(f"    {d}" for d in part.details)
    lines.extend(f"    note: {n}" for n in part.notes)
    lines.extend(f"    warning: {w}" for w in part.warnings)
    return lines


def check(f: Callable[..., Any], grad: Any = None, /, *inputs: Any,
          jacobian: Callable[..., Any] | None = None, vjp: Callable[..., Any] | None = None,
          jvp: Callable[..., Any] | None = None, wrt: Wrt = None, vec: str = "column",
          layout: str = "denominator", method: str = "central", rtol: float = DEFAULT_RTOL,
          seed: int = 0, trials: int = 1, spread: float = DEFAULT_SPREAD,
          kinds: Mapping[str, str] | None = None, timeout: float | None = None,
          name: str = "check", names: Sequence[str] | None = None) -> Result:
    """Check a claimed derivative of `f` at the point given by `inputs`.

    Call as ``check(f, grad, *inputs)``, or name the derivative's form:
    ``check(f, *inputs, jacobian=J)``, ``vjp=``, ``jvp=``.

    Parameters
    ----------
    f : callable
        ``f(*inputs)`` returns an array, real or complex, or a tree (lists, tuples, dicts)
        of them.
    grad : callable, optional
        ``grad(*inputs)``: the gradient of a real scalar f, shaped like the differentiated
        input (a tuple, one entry each, when several are differentiated).
    *inputs : array_like or tree of array_like
        The point: any number of arguments, each an array of any number of dimensions or
        a tree of them; real or complex. Arguments not differentiated (labels, masks,
        options) are passed as given.
    jacobian : callable, optional
        ``jacobian(*inputs)``: for each differentiated leaf x, the matrix d vec(f) / d vec(x)
        with vec in `vec` order, or an array of shape f.shape + x.shape (JAX's jacobian).
        Real f and inputs only.
    vjp : callable, optional
        ``vjp(*inputs, cotangent)``: a backward pass. The cotangent has f's structure; the
        result is shaped as a gradient.
    jvp : callable, optional
        ``jvp(*inputs, tangents)``: a forward pass. The tangents are shaped as a gradient;
        the result has f's structure.
    wrt : int, str or sequence of them, optional
        The arguments to differentiate, by position or by parameter name. Default: every
        argument whose entries are all floating point or complex. A gradient, a vjp or a
        tangent is one argument's tree when `wrt` names one argument (or when only one is
        differentiated), else a tuple.
    vec : {"column", "row"}
        The order in which a Jacobian's rows and columns enumerate the entries of f and x:
        column-major (the mathematical vec) or row-major (NumPy's and PyTorch's reshape).
    layout : {"denominator", "numerator"}
        For a gradient of a matrix input: shaped like X, or like X^T.
    method : {"central", "richardson", "complex", "auto"}
        Numerical method; ``"complex"`` needs f to accept complex input and be
        complex-analytic (you vouch for that).
    trials : int
        Points to check: the one given, then points near it (`spread`: their distance,
        relative to the size of the entries) or, for arguments named in `kinds`, drawn
        from that kind (``{"X": "spd"}``; see docs/format.md for the kinds).
    timeout : float, optional
        Seconds after which the check stops with an ERROR (main thread, POSIX only).
    names : sequence of str, optional
        The inputs' names in messages (default: f's parameter names, else x0, x1, ...).

    Returns
    -------
    Result
        ``.status`` (PASS, FAIL or ERROR), ``.error``, ``.noise``, ``.hint`` (a diagnosis
        of a failure, e.g. "matches the claim transposed"), ``.parts`` (one verdict for each
        real input), ``.explain()``, ``.raise_for_status()``. A function that raises, returns
        the wrong shape or structure, or a value that is not finite gives an ERROR result,
        not an exception; a bad argument to `check` itself is a TypeError or ValueError.

    Notes
    -----
    Complex inputs follow PyTorch's convention: C is R^2 with the inner product
    Re(sum(conj(a) * b)), so the gradient of a real f with respect to z = x + iy is
    df/dx + i df/dy (twice the Wirtinger derivative df/d conj(z)). JAX's grad returns its
    conjugate.
    """
    form, derivative, arguments = _form(grad, inputs, jacobian, vjp, jvp)
    _check_choices(vec=(vec, ("column", "row")), layout=(layout, ("denominator", "numerator")),
                   method=(method, ("central", "richardson", "complex", "auto")))
    if trials < 1:
        raise ValueError(f"`trials` must be at least 1, got {trials}")
    names = list(names) if names is not None else argument_names(f, len(arguments))
    if len(names) != len(arguments) or len(set(names)) != len(names) or not all(n.isidentifier() for n in names):
        raise ValueError(f"`names` must give each of the {len(arguments)} inputs its own Python name, got {names}")
    moving, single = _differentiated(names, arguments, wrt)
    converted = [_converted(n, a) if m else a for n, a, m in zip(names, arguments, moving)]
    call = pyfunc.make_call(names, converted, moving, single)
    if not call.parts:
        raise ValueError("no argument to differentiate: give `wrt`, or inputs of floating-point numbers")
    kinds = _kinds(dict(kinds or {}), call)
    fns = pyfunc.Functions(pyfunc.guarded(f, "f"), pyfunc.guarded(derivative, form), form, vec, layout)
    shown = _reproduce(form, names, wrt, vec, layout, method, rtol, seed, trials, spread, kinds)
    try:
        with time_limit(timeout):
            return _run(name, call, fns, method, rtol, seed, trials, spread, kinds, shown)
    except Timeout:
        return Result(Status.ERROR, problem=f"stopped after {timeout:g} s (timeout)", call=shown)


def assert_check(f: Callable[..., Any], grad: Any = None, /, *inputs: Any, **options: Any) -> Result:
    """`check`, raising an AssertionError with the full explanation unless it passed."""
    return check(f, grad, *inputs, **options).raise_for_status()


def _form(grad: Any, inputs: tuple[Any, ...], jacobian: Any, vjp: Any, jvp: Any) -> tuple[str, Callable[..., Any],
                                                                                         list[Any]]:
    """The claim's form, the function that states it, and the point's arguments (the
    second positional argument is the gradient function when callable, else an input)."""
    arguments = list(inputs)
    if grad is not None and not callable(grad):
        arguments.insert(0, grad)
        grad = None
    given = {k: v for k, v in (("grad", grad), ("jacobian", jacobian), ("vjp", vjp), ("jvp", jvp)) if v is not None}
    if len(given) != 1:
        raise TypeError("give the derivative as exactly one of grad (the second argument), jacobian=, vjp= "
                        f"or jvp=; got {', '.join(given) or 'none'}")
    (form, fn), = given.items()
    if not callable(fn):
        raise TypeError(f"`{form}` must be a function, got {type(fn).__name__}")
    if not arguments:
        raise TypeError("no inputs: give the point at which to check, check(f, grad, x, ...)")
    return form, fn, arguments


def _check_choices(**given: tuple[str, tuple[str, ...]]) -> None:
    for key, (value, choices) in given.items():
        if value not in choices:
            raise ValueError(f"`{key}` must be one of {', '.join(map(repr, choices))}, got {value!r}")


def argument_names(f: Callable[..., Any], count: int) -> list[str]:
    """The names of f's positional parameters when it has enough of them, else x0, x1, ..."""
    try:
        parameters = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    positional = [p.name for p in parameters
                  if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= count:
        return positional[:count]
    return ["x"] if count == 1 else [f"x{i}" for i in range(count)]


def _kinds(kinds: dict[str, str], call: pyfunc.Call) -> dict[str, str]:
    """`kinds`, checked: each names a differentiated argument, a known kind, and a kind its
    leaves' shapes suit."""
    for name, kind in kinds.items():
        argument = next((a for a in call.differentiated if a.name == name), None)
        if argument is None:
            raise ValueError(f"`kinds`: {name!r} is not a differentiated argument")
        if kind not in KINDS or kind == "index":
            raise ValueError(f"`kinds`: unknown kind {kind!r} for {name!r}; one of "
                             f"{', '.join(k for k in KINDS if k != 'index')}")
        for part in (p for p in call.parts if p.leaf in argument.leaves):
            problem = shape_problem(kind, part.shape)
            if problem:
                raise ValueError(f"`kinds`: {problem} ({part.name})")
    return kinds


def _numeric_kind(argument: Any) -> str:
    """"f" (floating), "c" (complex) or another dtype kind: the widest over the leaves."""
    kinds = {np.asarray(leaf.value).dtype.kind for leaf in flatten(argument, "")[0]}
    if kinds <= {"f"}:
        return "f"
    if kinds <= {"f", "c"}:
        return "c"
    return "".join(sorted(kinds - {"f", "c"}))


def _differentiated(names: list[str], arguments: list[Any], wrt: Wrt) -> tuple[list[bool], bool]:
    """Which arguments are differentiated, and whether derivatives come as one argument's
    tree (not a tuple)."""
    if wrt is None:
        moving = [_numeric_kind(a) in ("f", "c") for a in arguments]
        return moving, sum(moving) == 1
    chosen = [wrt] if isinstance(wrt, (int, str)) else list(wrt)
    moving = [False] * len(arguments)
    for w in chosen:
        if isinstance(w, str) and w not in names:
            raise ValueError(f"`wrt`: no argument named {w!r}; the arguments are {', '.join(names)}")
        if isinstance(w, int) and not -len(arguments) <= w < len(arguments):
            raise ValueError(f"`wrt`: no argument {w}; there are {len(arguments)}")
        moving[names.index(w) if isinstance(w, str) else w % len(arguments)] = True
    return moving, isinstance(wrt, (int, str))


def _converted(name: str, argument: Any) -> Any:
    """A differentiated argument with every leaf a float64 or complex128 array (a float32
    input is measured in float64); a ValueError naming the leaf that cannot be."""
    leaves, structure = flatten(argument, name)
    out = []
    for leaf in leaves:
        value = np.asarray(leaf.value)
        if value.dtype.kind not in "fc":
            raise ValueError(f"{leaf.path} has entries of {value.dtype}: it cannot be differentiated "
                             "(leave it out of `wrt`)")
        value = np.array(value, dtype=complex if value.dtype.kind == "c" else float)
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{leaf.path} has entries that are not finite")
        value.setflags(write=False)
        out.append(value)
    return unflatten(structure, iter(out))


def _run(name: str, call: pyfunc.Call, fns: pyfunc.Functions, method: str, rtol: float, seed: int, trials: int,
         spread: float, kinds: dict[str, str], shown: str) -> Result:
    try:
        output = pyfunc.observe(fns.f(*call.arguments_at(list(call.point().values()))), "f")
    except EvaluationError as exc:
        return Result(Status.ERROR, problem=str(exc), call=shown)
    problem = _form_problem(fns.form, output)
    if problem:
        return Result(Status.ERROR, problem=problem, call=shown)
    analytic = method in ("complex", "auto") and output.plain and all(p.component == "" for p in call.parts)
    if method == "complex" and not analytic:
        return Result(Status.ERROR, problem="method 'complex' needs real inputs and one real array out of f "
                                            "(the complex step moves the inputs along imaginary directions)", call=shown)
    identity = pyfunc.identity(name, call, output, fns, analytic)
    notes: tuple[str, ...] = ()
    options = Options(trials=trials, seed=seed, rtol=rtol, method=method, timeout=None)
    if output.single_precision:
        options = replace(options, rtol=max(rtol, SINGLE_RTOL), max_noise=SINGLE_MAX_NOISE, method="central",
                          numerics=replace(options.numerics, step_factor=SINGLE_STEP_FACTOR))
    sampler = _sampler(identity, call, seed, spread, kinds)
    parts = tuple(check_identity(identity, options, sampler=sampler))
    if fns.form == "jacobian" and any(r.status is Status.FAIL for r in parts):
        parts = _other_order(name, call, output, fns, options, sampler, parts)
    if output.single_precision:
        seen = max((r.noise or 0.0) for r in parts) + options.rtol
        notes = (f"f computes in single precision (float32) even from float64 inputs: relative errors "
                 f"below about {seen:.0e} cannot be seen",)
    parts = tuple(replace(r, message=_plain(r.message)) for r in parts)
    return Result(_overall(parts), parts, notes=notes, call=shown)


def _plain(message: str) -> str:
    """A message in the API's terms: no claim numbers or trials of a catalogue file."""
    message = re.sub(r" in claim \d+", "", message)
    message = re.sub(r"'f' is not finite in function", "f is not finite", message)
    message = message.replace("the sampled point (trial 1)", "the point given")
    return re.sub(r"the sampled point \(trial (\d+)\)", r"point \1 (near the one given)", message)


def _form_problem(form: str, output: pyfunc.Output) -> str:
    if form == "grad" and not output.real_scalar:
        return (f"f returned {output.describe()}: a gradient is of a real scalar f; "
                "give jacobian= (or vjp=) for any other f")
    if form == "jacobian" and not output.plain:
        return f"f returned {output.describe()}: jacobian= needs one real array; give vjp= or jvp= instead"
    return ""


def _other_order(name: str, call: pyfunc.Call, output: pyfunc.Output, fns: pyfunc.Functions, options: Options,
                 sampler: Callable[[Mapping[str, int], int], Sample],
                 parts: tuple[ClaimResult, ...]) -> tuple[ClaimResult, ...]:
    """Failing Jacobians judged again in the other vec order: one that holds there gets
    that diagnosis (a row-major reshape is the commonest slip in a hand-built Jacobian)."""
    other = "row" if fns.vec == "column" else "column"
    flipped = replace(fns, vec=other)
    again = check_identity(pyfunc.identity(name, call, output, flipped, options.method != "central"), options,
                           sampler=sampler)
    hint = (f"holds in {other}-major order: the Jacobian enumerates the entries of f and x "
            f"{'row by row (as NumPy reshape does)' if other == 'row' else 'column by column (vec)'}; "
            f"pass vec={other!r}")
    return tuple(replace(r, hint=hint, details=()) if r.status is Status.FAIL and a.status is Status.PASS else r
                 for r, a in zip(parts, again))


def _overall(parts: Sequence[ClaimResult]) -> Status:
    statuses = {r.status for r in parts}
    for status in (Status.ERROR, Status.FAIL):
        if status in statuses:
            return status
    return Status.PASS


def _sampler(identity: Identity, call: pyfunc.Call, seed: int, spread: float,
             kinds: Mapping[str, str]) -> Callable[[Mapping[str, int], int], Sample]:
    """Trial 0 at the point given; later trials near it, or drawn from a kind."""
    given = call.point()
    for value in given.values():
        value.setflags(write=False)

    def sample(sizes: Mapping[str, int], trial: int) -> Sample:
        if trial == 0:
            return Sample(identity.name, 0, MappingProxyType({}), MappingProxyType(given))
        rng = identity_rng(seed, f"{identity.name}/point/{trial}")
        values = {}
        for part in call.parts:
            argument = next(a for a in call.arguments if part.leaf in a.leaves)
            x = given[part.name]
            if argument.name in kinds:
                values[part.name] = draw_variable(Variable(part.name, part.shape, kinds[argument.name]), {}, rng)
                continue
            scale = float(np.sqrt(np.mean(x * x))) if x.size else 1.0
            moved = x + spread * (scale or 1.0) * rng.standard_normal(x.shape)
            moved.setflags(write=False)
            values[part.name] = moved
        return Sample(identity.name, trial, MappingProxyType({}), MappingProxyType(values))

    return sample


def _reproduce(form: str, names: list[str], wrt: Wrt, vec: str, layout: str, method: str, rtol: float, seed: int,
               trials: int, spread: float, kinds: Mapping[str, str]) -> str:
    derivative = "grad" if form == "grad" else f"{form}={form}"
    args = [f"f, {derivative}, {', '.join(names)}" if form == "grad" else f"f, {', '.join(names)}, {derivative}"]
    defaults = {"wrt": (wrt, None), "vec": (vec, "column"), "layout": (layout, "denominator"),
                "method": (method, "central"), "rtol": (rtol, DEFAULT_RTOL), "seed": (seed, None),
                "trials": (trials, 1), "spread": (spread, DEFAULT_SPREAD), "kinds": (dict(kinds) or None, None)}
    args += [f"{k}={v!r}" for k, (v, default) in defaults.items() if v != default]
    return f"gradcheck.check({', '.join(args)})"
