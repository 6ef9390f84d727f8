"""The in-depth report of `gradcheck verify` (pure: results in, renderables out)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

import numpy as np
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from gradcheck.catalogue import Identity, Variable
from gradcheck.errors import printable
from gradcheck.options import Options
from gradcheck.render import scalar_names, to_latex
from gradcheck.report.table import STYLES, note, sizes_text
from gradcheck.verdict import ClaimResult, Status

TINY = 1e-300

SIDE_BY_SIDE_MAX = 64  # entries up to which claimed and numerical values are printed


def identity_header(identity: Identity, sizes_line: str) -> RenderableType:
    lines = [Text(identity.name + (f": {identity.title}" if identity.title else ""), style="bold")]
    fields = [("file", printable(identity.path)), ("source", identity.source), ("latex", identity.latex),
              ("function", identity.function.source), ("as written", printable(identity.function.tex))]
    fields += [(f"let {name}", expr.source) for name, expr in identity.lets]
    fields += [("input", _variable(v)) for v in identity.inputs]
    fields += [("constant", _variable(v)) for v in identity.constants]
    fields.append(("run", sizes_line))
    for key, value in fields:
        if value:
            lines.append(Text.assemble((f"  {key}: ", "dim"), value))
    return Group(*lines)


def _variable(v: Variable) -> str:
    shape = "[" + ", ".join(map(str, v.shape)) + "]"
    extra = f", perturb: {v.perturb}" if v.perturb else ""
    return f"{v.name} {shape} {v.kind}{extra}"


def claim_report(result: ClaimResult, width: int = 100, scalars: Collection[str] = ()) -> RenderableType:
    claim = result.claim
    assert claim is not None  # an identity's results, never a bad file's
    head = Text.assemble((f"claim {claim.index}: ", "bold"), claim.describe(), " ",
                         (result.status.value, STYLES[result.status]))
    body: list[RenderableType] = [Text(f"{claim.form}: {claim.expr.source}")] if not claim.rest else \
        list(_links(result))
    if not claim.rest:  # the claim as math: as written in LaTeX, else printed from the expression
        body.append(Text(f"{'as written' if claim.expr.tex else 'math'}: {to_latex(claim.expr, scalars)}",
                         style="dim"))
    if claim.expect_fail:
        body.append(Text(f"expected to fail: {claim.reason}", style="yellow"))
    body.extend(_trials(result))
    sketch = max((m.sketch for m in result.readings), default=0)
    if sketch:
        body.append(Text(f"f is large: compared through {sketch} random signed sums of its entries",
                         style="dim"))
    body.extend(Text(f"note: {n}", style="yellow") for n in result.notes)
    body.extend(Text(f"warning: {w}", style="bold yellow") for w in result.warnings)
    if result.status is Status.ERROR:
        body.append(Text(result.message, style="magenta"))
    elif result.hint:
        body.append(Text(f"diagnosis: {result.hint}", style="bold"))
    body.extend(Text(d) for d in result.details)
    body.extend(_side_by_side(result, width - 2))
    return Group(head, Padding(Group(*body), (0, 0, 1, 2)))


def step_lines(result: ClaimResult) -> list[str]:
    """A chain's or a derivation's steps as plain lines (for the pytest plugin)."""
    return [text.plain for text in _links(result)]


def _links(result: ClaimResult) -> Iterator[Text]:
    """A chain or a derivation step by step, each with its largest error and noise over the
    trials, the first that does not hold marked."""
    assert result.claim is not None
    claim = result.claim
    if claim.form == "equals":
        yield Text("equals: f")
        labels = [f"link {k + 1}: = {e.source}" for k, e in enumerate(claim.links)]
    else:
        yield Text("derivation:")
        labels = [f"step {k + 1}: {e.source}" + (f"  (by {claim.by[k]})" if k < len(claim.by) and claim.by[k] else "")
                  + (f"  (uses {claim.uses[k]})" if k < len(claim.uses) and claim.uses[k] else "")
                  for k, e in enumerate(claim.links)]
        if claim.read_off is not None:
            labels.append(f"read off: {claim.read_off.source} ({claim.layout}, wrt {claim.wrt})")
    first = result.hint.split(":", 1)[0] if " does not hold: " in result.hint else ""
    steps = {step.part: step for step in result.steps or ()}
    for label in labels:
        prefix = label.split(":", 1)[0]
        step = steps.get(prefix)
        yield Text(f"  {label}")
        figures = f"error {step.error:.1e}  noise {step.noise:.1e}" if step else "not reached"
        yield Text.assemble(f"      {figures}", ("  <- first wrong", "bold red") if prefix == first else "")


def _trials(result: ClaimResult) -> Iterator[Text]:
    for m, c in zip(result.readings, result.comparisons):
        mark = "ok" if c.passed else "FAIL"
        cost = f"{m.nfev} evals" if m.nfev else "shared evals"
        # the tolerance is rtol (in the header) plus the noise floor
        # at most 78 characters: the claim's body is indented by 2 in an 80-column terminal
        yield Text(f"trial {m.trial + 1}: {mark:4} error {c.error:.1e}  noise {c.noise:.1e}  "
                   f"{m.method} {m.mode}, {cost}")
    names = dict.fromkeys(k for m in result.readings for k in m.conditions)
    for name in names:  # on a line of their own: an 80-column terminal has no room left
        values = ", ".join(f"{m.conditions[name]:.1f}" if name in m.conditions else "-"
                           for m in result.readings)
        yield Text(f"cond({name}) by trial: {values}", style="dim")


def _side_by_side(result: ClaimResult, width: int) -> Iterator[RenderableType]:
    if not result.readings or not result.comparisons:
        return
    worst = max(range(len(result.comparisons)), key=lambda i: result.comparisons[i].error)
    display = result.readings[worst].display
    if display is None:
        return
    # complex values (format 6) shown as such: their imaginary parts may be the slip
    claimed, numeric = (np.atleast_2d(np.asarray(a, dtype=complex if np.iscomplexobj(a) else float))
                        for a in display)
    if claimed.size > SIDE_BY_SIDE_MAX or numeric.size > SIDE_BY_SIDE_MAX:
        return
    trial = result.readings[worst].trial + 1
    left, right = _matrix_lines(claimed), _matrix_lines(numeric)
    if max(map(len, left)) + max(map(len, right)) + 5 <= width:
        yield Text(f"claimed | numerical (trial {trial}):", style="dim")
        yield Text(_columns(left, right), no_wrap=True)
    else:
        yield Text(f"claimed (trial {trial}):", style="dim")
        yield Text("\n".join(left), no_wrap=True)
        yield Text("numerical:", style="dim")
        yield Text("\n".join(right), no_wrap=True)


def _matrix_lines(a: np.ndarray) -> list[str]:
    return [" ".join(f"{x:10.4g}" for x in row) for row in a]


def _columns(left: Sequence[str], right: Sequence[str]) -> str:
    width = max((len(s) for s in left), default=0)
    rows = max(len(left), len(right))
    pad = [*left, *([""] * (rows - len(left)))]
    other = [*right, *([""] * (rows - len(right)))]
    return "\n".join(f"{a:<{width}}  |  {b}" for a, b in zip(pad, other))


def verify_report(identity: Identity, results: Sequence[ClaimResult], sizes_line: str,
                  width: int = 100) -> RenderableType:
    parts: list[RenderableType] = [identity_header(identity, sizes_line), Text("")]
    parts.extend(claim_report(r, width, scalar_names(identity)) for r in results)
    total = sum(r.nfev for r in results)
    parts.append(Text(f"{total} function evaluations in {sum(r.seconds for r in results):.2f}s"))
    return Group(*parts)


def run_line(results: Sequence[ClaimResult], options: Options) -> str:
    sizes = sizes_text(results[0].sizes) if results and results[0].sizes else ""
    method = next((r.method for r in results if r.method and r.method != "exact"), options.method)
    run = f"seed {options.seed}, {options.trials} trials, rtol {options.rtol:g}, method {method}"
    return f"{sizes}; {run}" if sizes else run  # an identity without dimensions has no sizes to show


__all__ = ["verify_report", "run_line", "note"]
