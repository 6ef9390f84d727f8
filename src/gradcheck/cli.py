"""The `gradcheck` command: wiring only; the work is done in `check` and `report`."""

from __future__ import annotations

import atexit
import functools
import gc
import importlib.util
import itertools
import math
import os
import signal
import string
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gradcheck import __version__
from gradcheck.errors import ExitCode, GradcheckError, did_you_mean
from gradcheck.options import (
    DEFAULT_MAX_NOISE,
    DEFAULT_RTOL,
    DEFAULT_SEED,
    DEFAULT_TIMEOUT,
    DEFAULT_TRIALS,
    MAX_SIZE,
    MAX_TIMEOUT,
    MAX_TRIALS,
    METHOD_CHOICES,
    RTOL_RANGE,
    Limits,
    Options,
)
from gradcheck.supervisor import available_cores

if TYPE_CHECKING:
    from rich.console import Console

    from gradcheck.catalogue import Catalogue, Entry, Found, Identity
    from gradcheck.checker import Checked, Collected
    from gradcheck.verdict import ClaimResult, Status

# NumPy, YAML and rich are imported inside the commands that use them, so that
# `gradcheck --help` and usage errors start fast.


def load_catalogue(paths: Any, limits: Limits = Limits(), follow_links: bool = False,
                   identity_files_only: bool = False) -> Catalogue:
    from gradcheck.catalogue import load_catalogue as load

    return load(paths, limits, follow_links, identity_files_only)


IDENTITY_FILES_ONLY = click.option(
    "--identity-files-only", is_flag=True,
    help="Skip YAML files that are not identity files (as the pytest plugin does): for pre-commit, "
         "which hands over every YAML file.")


FOLLOW_LINKS = click.option("--follow-links", is_flag=True,
                            help="Follow symbolic links that leave the folders given (by default a link out "
                                 "of them is a row, its target not read).")


def _console(**options: Any) -> Console:
    from rich.console import Console

    return Console(**options)


def _show(console: Console, renderable: Any) -> None:
    """Print to a terminal as rich lays it out; to a pipe or a log, the same lines with
    no trailing blanks (rich pads every line of a table to the width)."""
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def _text(*parts: Any) -> Any:
    from rich.text import Text

    return Text.assemble(*parts)


F = TypeVar("F", bound=Callable[..., Any])


def _dim(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> dict[str, int]:
    dims: dict[str, int] = {}
    for value in values:
        name, sep, size = value.partition("=")
        if not sep or not name.strip() or not size.strip().isdigit() or not 1 <= int(size) <= MAX_SIZE:
            raise click.BadParameter(f"expected NAME=SIZE with SIZE from 1 to {MAX_SIZE}, got '{value}'")
        dims[name.strip()] = int(size)
    return dims


class Finite(click.FloatRange):
    """A float in a range that is a number: click's FloatRange lets nan through (every
    comparison with it is false) and inf where the range is open."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number



def numeric_options(fn: F) -> F:
    """Options shared by the commands that check claims."""
    decorators = [
        click.option("--seed", type=click.IntRange(0, None), default=DEFAULT_SEED, show_default=True,
                     help="Seed of the random points; the same seed prints the same table."),
        click.option("--trials", type=click.IntRange(1, MAX_TRIALS), default=DEFAULT_TRIALS, show_default=True,
                     help="Independent random points per identity."),
        click.option("--size", type=click.IntRange(1, MAX_SIZE), default=None,
                     help="Set every dimension to this size."),
        click.option("--dim", "dims", multiple=True, callback=_dim, metavar="NAME=SIZE",
                     help="Set one dimension, e.g. --dim n=5 (repeatable)."),
        click.option("--rtol", type=Finite(*RTOL_RANGE), default=DEFAULT_RTOL, show_default=True,
                     help="Relative tolerance, on top of the estimated numerical error."),
        click.option("--method", type=click.Choice(METHOD_CHOICES), default="auto", show_default=True,
                     help="Numerical derivative: central differences, Richardson extrapolation, complex "
                          "step (analytic functions only; else central), or auto (complex where valid, "
                          "else central)."),
        click.option("--max-noise", type=Finite(1e-16, 1.0), default=DEFAULT_MAX_NOISE,
                     show_default=True,
                     help="Largest relative noise floor at which a claim is judged; noisier points are "
                          "resampled."),
        click.option("--max-elements", type=click.IntRange(1, None), default=Limits.max_elements,
                     show_default=True,
                     help="Largest array (entries) a sample or an expression may build."),
        click.option("--max-file-size", type=click.IntRange(1, None), default=Limits.max_file_bytes,
                     show_default=True,
                     help="Largest identity file, in bytes."),
        click.option("--max-memory", type=click.IntRange(256, None), default=Limits.max_memory >> 20,
                     show_default=True, metavar="MB",
                     help="Memory a process checking identities may use, in MB (an identity over it is ERROR)."),
        click.option("--timeout", type=Finite(0.1, MAX_TIMEOUT), default=DEFAULT_TIMEOUT, show_default=True,
                     help="Stop an identity that runs longer than this many seconds (even inside a "
                          "native call) and report it as ERROR."),
    ]
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


def _options(max_elements: int = Limits.max_elements, max_file_size: int = Limits.max_file_bytes,
             max_memory: int = Limits.max_memory >> 20, **values: Any) -> Options:
    """The run options from the command line's values: the limits travel with them (to
    worker processes too), never through a module global."""
    return Options(limits=Limits(max_elements, max_file_size, max_memory=max_memory << 20), **values)


class _Group(click.Group):
    """Turns the tool's own errors into one line on stderr and exit status 1 (2 for a
    file that cannot be written where the command line says)."""

    def invoke(self, ctx: click.Context) -> Any:
        from gradcheck.report.output import OutputError

        try:
            return super().invoke(ctx)
        except GradcheckError as exc:
            click.echo(f"gradcheck: error: {exc}", err=True)
            ctx.exit(ExitCode.USAGE if isinstance(exc, OutputError) else ExitCode.FAILED)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gradcheck")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Check matrix-calculus claims numerically.

    \b
    Examples:
      gradcheck run identities/
      gradcheck verify logdet --size 5
      gradcheck list
    """
    ctx.obj = {"debug": debug}
    if debug:  # worker processes put a bug's whole traceback in its identity's row
        os.environ["GRADCHECK_DEBUG"] = "1"


SCREEN = ("table", "plain")  # the formats printed for a reader, not a file
FORMATS = ("table", "plain", "json", "junit", "markdown", "html")
PLAIN_CHUNK = 1000  # lines of the plain table written at a time


@cli.command(short_help="Check every claim under PATHS and print a table.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-k", "only", metavar="TEXT",
              help="Only claims whose identity name, file name or label contains TEXT (any case), as pytest's -k.")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
              help="Processes to check identities in (default and most: the cores this process may use). "
                   "Results do not depend on it.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Report format. table: columns sized to the terminal (in a pipe: plain); plain: one whole "
                   "line per claim. With --output the table is still printed.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write the report to this file (atomically: never a truncated file).")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Also write a JUnit XML report to FILE.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Also write a JSON report to FILE.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Also write a Markdown report to FILE.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Also write an HTML report to FILE.")
@click.option("--quiet", "-q", is_flag=True, help="Print no table: only the problems and the totals.")
@click.option("--only-problems", is_flag=True, help="Print the table's rows that need attention only.")
@FOLLOW_LINKS
@IDENTITY_FILES_ONLY
@numeric_options
def run(paths: tuple[str, ...], only: str | None, jobs: int | None, fmt: str, output: str | None,
        junit_path: str | None, json_path: str | None, markdown_path: str | None, html_path: str | None,
        quiet: bool, only_problems: bool, follow_links: bool, identity_files_only: bool, **numeric: Any) -> None:
    """Check every claim in the identity files under PATHS and print a table.

    Exit status: 0 when every claim passed (or failed as expected), 1 when any
    claim failed, errored or passed unexpectedly, 2 on a usage error, 130 when
    interrupted by Ctrl-C or SIGTERM (what finished so far is reported).

    Reports: --format/--output for one, --junit, --json, --markdown and --html for
    any number from the same run. Under GitHub Actions (GITHUB_ACTIONS=true) each
    problem is also an annotation on its file and line, and the Markdown report is
    appended to the job summary ($GITHUB_STEP_SUMMARY).

    \b
    Example:
      gradcheck run identities/ -k det --size 5
      gradcheck run identities/ --junit report.xml --json report.json
    """
    from gradcheck.catalogue import discover
    from gradcheck.checker import summary

    start = time.perf_counter()
    options = _options(**numeric)
    files = {path: kind for kind, path in (("junit", junit_path), ("json", json_path), ("markdown", markdown_path),
                                          ("html", html_path), (fmt, output)) if path}
    if "html" in (fmt, *files.values()) and importlib.util.find_spec("latex2mathml") is None:
        raise click.UsageError("an HTML report needs latex2mathml: pip install 'gradcheck[html]'")
    if options.dims:  # a usage error before any check: the names come from the files
        _known_dims(options, load_catalogue(paths, options.limits, follow_links, identity_files_only).identities)
    console = _console()
    cores = available_cores()
    found = discover(paths, follow_links)
    made, interrupted = _collect(found, options, only, min(jobs or cores, cores), console, identity_files_only)
    results = made.results
    if identity_files_only and not made.entries and not made.bad_files and not interrupted:
        click.echo("0 identity files among the files given")
        raise SystemExit(ExitCode.OK)
    if not interrupted:
        _nothing_selected(made, only, paths)
    pictures = _pictures(made.entries, results, options) if "html" in (fmt, *files.values()) else {}
    view = "quiet" if quiet else "problems" if only_problems else "all"
    seconds = time.perf_counter() - start
    counts = summary(results)  # once: each pass over the results makes them again (gradcheck.held)
    _report(results, counts, fmt, options, seconds, console, pictures, view, screen=not output)
    _files(results, counts, files, options, seconds, pictures)
    if interrupted:
        console.print(f"interrupted: {len({r.identity for r in results})} identities were checked")
        raise SystemExit(ExitCode.INTERRUPTED)
    raise SystemExit(ExitCode.OK if all(counts[s] == 0 for s in counts if not s.ok) else ExitCode.FAILED)


def _pictures(entries: Sequence[Entry], results: Sequence[ClaimResult],
              options: Options) -> dict[tuple[str, int], str]:
    """For the HTML report: each failing claim's error against the step, as SVG (when
    matplotlib is installed; the report says where it is not). The identities stayed in
    the workers: those with a failing claim are loaded again (a file that no longer holds
    the identity checked gets no picture)."""
    from gradcheck.catalogue import Identity, load_item
    from gradcheck.verdict import Status

    failing = {(r.identity, r.claim.index) for r in results if r.claim is not None and r.status is Status.FAIL}
    if not failing or importlib.util.find_spec("matplotlib") is None:
        return {}
    from gradcheck.report.plot import svg, sweep

    out = {}
    paths = {e.name: e.path for e in entries}
    by_claim = {(r.identity, r.claim.index): r for r in results if r.claim is not None}
    for name in sorted({n for n, _ in failing}):
        identity = load_item(paths[name], options.limits)
        if not isinstance(identity, Identity) or identity.name != name:
            continue
        for s, claim in zip(sweep(identity, options), identity.claims):
            if (name, claim.index) in failing:
                out[(name, claim.index)] = svg(identity, [s], [by_claim[(name, claim.index)]])
    return out


def _nothing_selected(made: Collected, only: str | None, paths: Sequence[str]) -> None:
    """An empty selection is a mistake in the command (a -k with a typo, the wrong folder),
    not a green run: a usage error, as pytest's -k with no match is not a pass."""
    if made.bad_files or made.chosen:
        return
    where = ", ".join(paths)
    if not made.entries:
        raise click.UsageError(f"no identity files (*.yaml, *.yml) under {where}")
    raise click.UsageError(f"no identity name contains '{only}' ({len(made.entries)} identities under "
                           f"{where}; 'gradcheck list' shows their names)")


def _collect(found: Found, options: Options, only: str | None, jobs: int, console: Console,
             identity_files_only: bool) -> tuple[Collected, bool]:
    """Load and check the files in the workers, with a progress bar on a terminal; on
    Ctrl-C keep what finished (as checked: which of them clash is not settled)."""
    from rich.progress import Progress

    from gradcheck.catalogue import Entry
    from gradcheck.checker import Collected, check_files, collected
    from gradcheck.held import Results, Spool

    done: list[Checked] = []
    spool = Spool()  # each file's results leave memory as they arrive
    show = console.is_terminal and not os.environ.get("CI")
    checks = check_files(found, options, only, jobs, identity_files_only)
    batches = (replace(c, results=spool.keep(c.results)) for c in checks)
    # SIGTERM (a CI job cancelled, `kill`) stops the run as Ctrl-C does: the workers are
    # stopped and what finished is reported
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if not show:  # not even a disabled bar: rich 13.0's prints an empty line when it stops
            done.extend(batches)
        else:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("checking", total=len(found.files))
                for checked in batches:
                    done.append(checked)
                    progress.advance(task)
    except KeyboardInterrupt:
        entries = tuple(c.item for c in done if isinstance(c.item, Entry))
        return Collected(entries, (), any(c.chosen for c in done), Results(c.results for c in done)), True
    finally:
        checks.close()  # stops the workers now, not when the generator is collected
        signal.signal(signal.SIGTERM, previous)
    return collected(found, done, only), False


def _report(results: Sequence[ClaimResult], counts: dict[Status, int], fmt: str, options: Options, seconds: float,
            console: Console, pictures: Mapping[tuple[str, int], str] | None = None, view: str = "all",
            screen: bool = True) -> None:
    """What the terminal shows: the report in `fmt` when it is not a screen format (and
    `screen`, no --output took it), else the table: every row (`view` "all"), the rows
    that need attention ("problems"), or none ("quiet"), then the problems and totals."""
    from gradcheck.report.table import plain_lines, plain_problems, problems, results_table, totals_line

    if fmt not in SCREEN and screen:
        from gradcheck.report.output import pieces

        for piece in pieces(_chunks(fmt, results, counts, seconds, options, pictures)):
            click.echo(piece, nl=False)
        return
    shown = results if view == "all" else [r for r in results if not r.status.ok or r.warnings]
    if fmt == "plain" or not console.is_terminal:  # a pipe or a log: whole lines that grep finds
        if view != "quiet" and shown:
            lines = plain_lines(shown)
            while chunk := "".join(itertools.islice(lines, PLAIN_CHUNK)):  # written as made
                click.echo(chunk, nl=False)
        click.echo(plain_problems(results) + totals_line(counts, seconds).plain)
    else:
        if view != "quiet" and shown:
            console.print(results_table(shown, console.width))
        console.print(problems(results), end="")
        console.print(totals_line(counts, seconds))


def _files(results: Sequence[ClaimResult], counts: dict[Status, int], files: Mapping[str, str], options: Options,
           seconds: float, pictures: Mapping[tuple[str, int], str]) -> None:
    """Every report asked for, each to its file, after the table (a report that cannot be
    written loses no result on screen: an OutputError is exit 2, see _Group); under GitHub
    Actions, annotations and the job summary too."""
    from gradcheck.report.output import pieces, write_atomic

    for path, kind in files.items():
        write_atomic(path, _chunks(kind, results, counts, seconds, options, pictures))
    if os.environ.get("GITHUB_ACTIONS") == "true":
        from gradcheck.report.github import workflow_commands

        click.echo(workflow_commands(results), nl=False)
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        try:
            with open(summary_path, "a", encoding="utf-8") as handle:
                handle.writelines(pieces(_chunks("markdown", results, counts, seconds, options)))
                handle.write("\n")
        except OSError as exc:
            click.echo(f"gradcheck: warning: cannot append to $GITHUB_STEP_SUMMARY: {exc.strerror}", err=True)


def _chunks(fmt: str, results: Sequence[ClaimResult], counts: dict[Status, int], seconds: float,
            options: Options, pictures: Mapping[tuple[str, int], str] | None = None) -> Iterator[str]:
    """The report in `fmt`, in chunks as it is made: written as they come, so that no
    report of a large run is ever whole in memory."""
    if fmt == "html":
        from gradcheck.report.html import html_chunks

        return html_chunks(results, counts, seconds, pictures)
    if fmt == "json":
        from gradcheck.report.json_report import json_chunks

        return json_chunks(results, counts, seconds, options)
    if fmt == "junit":
        from gradcheck.report.junit import junit_chunks

        return junit_chunks(results, counts, seconds)
    if fmt == "markdown":
        from gradcheck.report.markdown import markdown_chunks

        return markdown_chunks(results, counts, seconds)
    from gradcheck.report.table import plain_lines, plain_problems, totals_line

    # table or plain to a file: what a pipe gets, one whole line per claim
    return itertools.chain(plain_lines(results), [plain_problems(results) + totals_line(counts, seconds).plain + "\n"])


def _complete_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of identity names: the `name:` lines of the catalogue verify would
    search (--catalogue, ./identities or the installed one), read quickly, not loaded."""
    import re

    from click.shell_completion import CompletionItem

    from gradcheck.catalogue import bundled_catalogue

    given = ctx.params.get("catalogue_dir")
    places = [Path(given)] if given else [p for p in (Path("identities"), bundled_catalogue()) if p and p.is_dir()]
    pattern = re.compile(r"^name:\s*['\"]?([a-z0-9_.-]+)", re.MULTILINE)
    names: set[str] = set()
    for place in places[:1]:
        for path in place.rglob("*.y*ml"):
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    found = pattern.search(handle.read(4096))
            except OSError:
                continue
            if found and found.group(1).startswith(incomplete):
                names.add(found.group(1))
    return [CompletionItem(n) for n in sorted(names)]


@cli.command()
@click.argument("name", shell_complete=_complete_names)
@click.option("--catalogue", "catalogue_dir", is_eager=True, type=click.Path(exists=True, file_okay=False),
              help="Look for NAME here instead of ./identities.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Also draw each claim's error against the step size to this .png or .svg file.")
@numeric_options
def verify(name: str, catalogue_dir: str | None, plot_path: str | None, **numeric: Any) -> None:
    """Check one identity in depth and explain any failure.

    NAME (an identity's name, its file's name, or the path of the file) is looked
    up in --catalogue DIR, else in ./identities, else in the catalogue installed
    with gradcheck.

    \b
    Example:
      gradcheck verify logdet --size 5 --trials 5
      gradcheck verify logdet --plot logdet.svg
    """
    if plot_path is not None and Path(plot_path).suffix.lower() not in (".png", ".svg"):
        raise click.BadParameter("the picture is a .png or a .svg file", param_hint="'--plot'")
    if plot_path is not None and importlib.util.find_spec("matplotlib") is None:
        raise click.UsageError("--plot needs matplotlib: pip install 'gradcheck[plot]'")
    from gradcheck.report.verify import run_line, verify_report

    options = _options(**numeric)
    identity = _find(name, catalogue_dir, options.limits)
    _known_dims(options, [identity])
    from gradcheck.checker import check_supervised

    results = check_supervised(identity, options)
    console = _console()
    _show(console, verify_report(identity, results, run_line(results, options), console.width))
    if plot_path is not None:
        from gradcheck.report.plot import draw, sweep

        written = draw(identity, sweep(identity, options), results, plot_path)
        console.print(f"wrote {written}")
    raise SystemExit(ExitCode.OK if all(r.status.ok for r in results) else ExitCode.FAILED)


def _known_dims(options: Options, identities: Sequence[Identity]) -> None:
    """A --dim that no identity has is a typo, not a no-op."""
    known = {d for i in identities for d in i.dims}
    for name in options.dims:
        if name not in known:
            hint = did_you_mean(name, known) or (f"dimensions: {', '.join(sorted(known))}" if known
                                                 else "these identities have no dimensions")
            raise click.BadParameter(f"no identity has a dimension '{name}': {hint}", param_hint="'--dim'")


def _find(name: str, catalogue_dir: str | None, limits: Limits) -> Identity:
    from gradcheck.catalogue import NotFound, find_identity

    try:
        return find_identity(name, [catalogue_dir] if catalogue_dir is not None else None, limits)
    except NotFound as exc:
        raise click.UsageError(str(exc)) from None


@cli.command(short_help="Validate identity files without numerics (pre-commit).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@FOLLOW_LINKS
@IDENTITY_FILES_ONLY
def lint(paths: tuple[str, ...], follow_links: bool, identity_files_only: bool) -> None:
    """Validate identity files without numerics: the format, every expression, and the
    shapes the declarations imply (A @ X with A and X both n x m is found here, not at run
    time). Fast enough for a pre-commit hook. Exit status 1 when any file is bad.

    \b
    Example:
      gradcheck lint identities/
    """
    from gradcheck.errors import CatalogueError, Location
    from gradcheck.shapes import problems

    catalogue = load_catalogue(paths, follow_links=follow_links, identity_files_only=identity_files_only)
    if identity_files_only and not catalogue.identities and not catalogue.bad_files:
        click.echo("0 identity files among the files given")
        raise SystemExit(ExitCode.OK)
    if not catalogue.identities and not catalogue.bad_files:
        raise click.UsageError(f"no identity files (*.yaml, *.yml) under {', '.join(paths)}")
    # shapes known from the declarations alone: a mismatch that every run would hit
    errors = [item.error for item in catalogue.bad_files]
    good = 0
    for identity in catalogue.identities:
        found = problems(identity)
        good += not found
        errors += [CatalogueError(message, Location(identity.path, key, line)) for key, line, message in found[:1]]
    bad = len(catalogue.identities) + len(catalogue.bad_files) - good
    # on stdout, one whole line per bad file (never wrapped: a log or grep reads it whole)
    for error in errors:
        click.secho("ERROR ", fg="magenta", bold=True, nl=False)
        click.echo(str(error))
    click.echo(f"{good + bad} file{'' if good + bad == 1 else 's'} read: "
               f"{good} identit{'y' if good == 1 else 'ies'} ok, {bad} bad")
    raise SystemExit(ExitCode.FAILED if bad else ExitCode.OK)


_OPTIONS = {"derivative": "--claim", "differential": "--differential", "hessian": "--hessian", "equals": "--equals",
            "vjp": "--vjp", "jvp": "--jvp", "hvp": "--hvp", "second_differential": "--second-differential",
            "derivation": "--step"}


def _on_the_command_line(message: str, claims: Sequence[Mapping[str, Any]]) -> str:
    """An error about the document `check` builds, told in the terms the user typed: the
    argument or option, not a key of a file they never saw."""
    import re

    message = message.replace(" in function of <command line>", " in FUNCTION")
    message = re.sub(r" in (inputs|constants)\.(\w+)[^:]* of <command line>(, line \d+)?",
                     lambda m: f" in --{m.group(1)[:-1]} {m.group(2)}", message)

    def option(m: re.Match[str]) -> str:
        k = int(m.group(1)) - 1
        form = next((f for f in _OPTIONS if k < len(claims) and f in claims[k]), "")
        step = f" number {m.group(2).split()[-1]}" if m.group(2) and form == "derivation" else ""
        return f" in {_OPTIONS.get(form, 'the claim')}{step}"

    message = re.sub(r" in claim (\d+)( step \d+)?[^:]*? of <command line>(, line \d+)?", option, message)
    return message.replace(" of <command line>", "")


def _variable_spec(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> dict[str, Any]:
    """NAME=SHAPE[:KIND], SHAPE like 4x4, 4x1, 4 or 1 (a scalar is [])."""
    out: dict[str, Any] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        shape_text, _, kind = rest.partition(":")
        try:
            shape = [] if shape_text in ("", "scalar") else [int(n) for n in shape_text.lower().split("x")]
        except ValueError:
            shape = None
        if not sep or not name or shape is None or len(shape) > 2 or any(n < 1 for n in shape):
            raise click.BadParameter(f"expected NAME=SHAPE[:KIND] such as X=4x4:spd, got '{value}'")
        out[name] = {"shape": shape, **({"kind": kind} if kind else {})}
    return out


@cli.command(name="check")
@click.argument("function")
@click.option("--input", "inputs", multiple=True, callback=_variable_spec, required=True, metavar="NAME=SHAPE[:KIND]",
              help="An input, e.g. X=4x4:spd, x=5x1 (repeatable).")
@click.option("--constant", "constants", multiple=True, callback=_variable_spec, metavar="NAME=SHAPE[:KIND]",
              help="A random constant held fixed (repeatable).")
@click.option("--claim", "claim", default=None, help="A claimed derivative (needs --layout).")
@click.option("--layout", type=click.Choice(["numerator", "denominator"]), default=None)
@click.option("--wrt", default=None,
              help="The input of --claim, --hessian, --vjp, --jvp or --hvp (default: the only input).")
@click.option("--differential", default=None, help="A claimed differential, written with dX for each input X.")
@click.option("--hessian", default=None, help="A claimed Hessian.")
@click.option("--equals", default=None, help="An expression claimed equal to the function.")
@click.option("--vjp", default=None, help="A claimed backward pass: the cotangent of --wrt, written with G.")
@click.option("--jvp", default=None, help="A claimed forward pass: the change of f, written with a tangent V.")
@click.option("--hvp", default=None, help="A claimed Hessian-vector product, written with a tangent V.")
@click.option("--second-differential", "second", default=None, help="A claimed d^2 f, written with dX.")
@click.option("--step", "steps", multiple=True,
              help="A step of a derivation, written with dX (repeatable, in order).")
@click.option("--cotangent", default="G", show_default=True, help="The name --vjp gives the cotangent of f.")
@click.option("--tangent", default="V", show_default=True, help="The name --jvp and --hvp give the tangent.")
@click.option("--tex", is_flag=True, help="FUNCTION and every claim are LaTeX (docs/format.md#latex).")
@numeric_options
def check_command(function: str, inputs: dict[str, Any], constants: dict[str, Any], claim: str | None,
                  layout: str | None, wrt: str | None, differential: str | None, hessian: str | None,
                  equals: str | None, vjp: str | None, jvp: str | None, hvp: str | None, second: str | None,
                  steps: tuple[str, ...], cotangent: str, tangent: str, tex: bool, **numeric: Any) -> None:
    """Check one claim about FUNCTION without writing a file.

    \b
    Example:
      gradcheck check "logdet(X)" --input X=4x4:invertible \\
        --claim "inv(X).T" --layout denominator
      gradcheck check "x.T @ A @ x" --input x=5x1 --constant A=5x5 \\
        --hessian "A + A.T"
      gradcheck check "inv(A)" --input A=3x3:invertible \\
        --vjp "-inv(A).T @ G @ inv(A).T"
      gradcheck check "logdet(X)" --input X=3x3:invertible \\
        --step "trace(inv(X) @ dX)" --step "sum(inv(X).T * dX)"
      gradcheck check --tex '\\ln|X|' --input X=3x3:invertible \\
        --differential '\\operatorname{tr}(X^{-1} dX)'
    """
    from gradcheck.catalogue import load_data
    from gradcheck.report.verify import run_line, verify_report
    from gradcheck.schema import FORMS, LATEST

    target = wrt or (next(iter(inputs)) if len(inputs) == 1 else None)
    claims: list[dict[str, Any]] = []
    if claim is not None:
        claims.append({"wrt": target, "layout": layout, "derivative": claim})
    for form, text in (("differential", differential), ("hessian", hessian), ("equals", equals)):
        if text is not None:
            claims.append({form: text, **({"wrt": target} if form == "hessian" else {})})
    if vjp is not None:
        claims.append({"vjp": vjp, "wrt": target, "cotangent": cotangent})
    if jvp is not None:
        claims.append({"jvp": jvp, "wrt": target, "tangent": tangent})
    if hvp is not None:
        claims.append({"hvp": hvp, "wrt": target, "tangent": tangent})
    if second is not None:
        claims.append({"second_differential": second})
    if steps:
        claims.append({"derivation": list(steps)})
    if not claims:
        raise click.UsageError("give a claim: --claim (with --layout), --differential, --hessian, --equals, "
                               "--vjp, --jvp, --hvp, --second-differential or --step")
    if tex:  # every expression given is LaTeX: {tex: ...} in the file's terms
        function_spec: Any = {"tex": function}
        claims = [{k: ({"tex": v} if k in FORMS and k != "derivation" else
                       [{"tex": step} for step in v] if k == "derivation" else v) for k, v in c.items()}
                  for c in claims]
    else:
        function_spec = function
    document = {"format": LATEST, "name": "check", "inputs": inputs, "constants": constants,
                "function": function_spec, "claims": [{k: v for k, v in c.items() if v is not None} for c in claims]}
    options = _options(**numeric)
    try:
        identity = load_data(document, "<command line>")
    except GradcheckError as exc:  # what was typed on the command line: a usage error, at its option
        click.echo(f"gradcheck: error: {_on_the_command_line(str(exc), claims)}", err=True)
        raise SystemExit(ExitCode.USAGE) from None
    _known_dims(options, [identity])
    from gradcheck.checker import check_supervised

    results = check_supervised(identity, options)
    console = _console()
    _show(console, verify_report(identity, results, run_line(results, options), console.width))
    raise SystemExit(ExitCode.OK if all(r.status.ok for r in results) else ExitCode.FAILED)


@cli.command()
@click.argument("name")
@click.option("--folder", type=click.Path(file_okay=False), default="identities", show_default=True,
              help="Where to write NAME.yaml.")
def new(name: str, folder: str) -> None:
    """Write a commented template identity file NAME.yaml.

    \b
    Example:
      gradcheck new my_logdet --folder identities/mine
    """
    from gradcheck.schema import NAME_PATTERN

    if not NAME_PATTERN.fullmatch(name):
        raise click.BadParameter("use only a-z, 0-9, '_', '.' and '-'", param_hint="NAME")
    target = Path(folder) / f"{name}.yaml"
    if target.exists():
        raise click.UsageError(f"{target} exists; not overwriting it")
    schema = Path(__file__).resolve().parent / "schemas" / "identity.schema.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    template = string.Template((Path(__file__).resolve().parent / "templates" / "identity.yaml").read_text("utf-8"))
    # relative to the new file (an editor resolves it from there), so the file names no
    # absolute path of this machine and works for anyone whose environment sits alike
    relative = Path(os.path.relpath(schema, target.parent.resolve())).as_posix()
    target.write_text(template.substitute(name=name, folder=folder, schema=relative), encoding="utf-8")
    click.echo(f"wrote {target}")


@cli.command(name="list")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
def list_(paths: tuple[str, ...]) -> None:
    """List identities: name, title, tags and number of claims.

    PATHS default to ./identities, or the installed catalogue.

    \b
    Example:
      gradcheck list identities/seed
    """
    from rich.table import Table

    from gradcheck.catalogue import discover, load_files

    catalogue = load_files(discover(paths or _default_paths()), jobs=available_cores())
    console = _console()
    longest = max((len(i.name) for i in catalogue.identities), default=4)
    if not console.is_terminal:  # a pipe: one whole line per identity, the name first
        for i in catalogue.identities:
            click.echo(f"{i.name.ljust(longest)}  {len(i.claims):>3}  {i.title}  [{', '.join(i.tags)}]".rstrip())
    else:
        table = Table(header_style="bold")
        table.add_column("name", no_wrap=True, min_width=longest)  # whole, to copy into verify
        table.add_column("claims", justify="right", no_wrap=True)
        table.add_column("title", overflow="fold", ratio=2)
        table.add_column("tags", overflow="fold", ratio=1)
        for i in catalogue.identities:
            table.add_row(_text(i.name), str(len(i.claims)), _text(i.title), _text(", ".join(i.tags)))
        console.print(table)
    for bad in catalogue.bad_files:
        click.echo(f"ERROR {bad.error}")
    raise SystemExit(ExitCode.FAILED if catalogue.bad_files else ExitCode.OK)


@cli.command(short_help="Write the catalogue as a Markdown page.")
@click.argument("catalogue_dir", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), default="docs/catalogue.md", show_default=True,
              help="Where to write the page.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the page is out of date.")
@click.option("--coverage", "coverage_path", type=click.Path(dir_okay=False, exists=True), default=None,
              metavar="FILE",
              help="Coverage tables (Markdown: a '## source' heading, then a table whose third column names "
                   "identities in backticks) to group the page by source. Default: coverage.md beside the "
                   "page, if there is one.")
def docs(catalogue_dir: str | None, output: str, check: bool, coverage_path: str | None) -> None:
    """Generate the Markdown page of a catalogue: grouped by source, each with its
    coverage table (see --coverage), then one section per topic folder.

    CATALOGUE_DIR defaults to ./identities.

    \b
    Example:
      gradcheck docs identities --output docs/catalogue.md
      gradcheck docs --check        # in CI: fail when the page is stale
    """
    from gradcheck.report.catalogue_page import catalogue_page, read_coverage
    from gradcheck.report.output import write_atomic

    root = Path(catalogue_dir or "identities")
    catalogue = load_catalogue([root])
    if catalogue.bad_files:
        raise GradcheckError(f"cannot document a catalogue with bad files: {catalogue.bad_files[0].error}")
    target = Path(output)
    beside = target.parent / "coverage.md"
    tables = Path(coverage_path) if coverage_path else beside if beside.is_file() else None
    try:
        coverage = read_coverage(tables.read_text(encoding="utf-8")) if tables else []
    except (OSError, UnicodeDecodeError) as exc:
        raise GradcheckError(f"cannot read the coverage tables {tables}: {exc}") from None
    page = catalogue_page(catalogue.identities, root, coverage)
    if check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != page:
            raise GradcheckError(f"{target} is out of date: run `gradcheck docs {root} --output {target}`")
        click.echo(f"{target} is up to date")
        return
    write_atomic(target, page)  # an OutputError is exit 2 (_Group)
    click.echo(f"wrote {target} ({len(catalogue.identities)} identities)")


def _default_paths() -> list[Path]:
    from gradcheck.catalogue import NotFound, default_paths

    try:
        return default_paths()
    except NotFound as exc:
        raise click.UsageError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the command group and map errors to exit codes."""
    _freeze_at_exit()
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    if sys.stdout is None:  # started with stdout closed (>&-): a report would vanish unseen
        if sys.stderr is not None:
            sys.stderr.write("gradcheck: error: standard output is closed\n")
        sys.exit(ExitCode.USAGE)
    try:
        # Without standalone mode click returns, not raises, the status of ctx.exit (the
        # tool's own errors, see _Group): it must still reach the process.
        status = cli.main(args=argv, prog_name="gradcheck", standalone_mode=False)
        if isinstance(status, int) and status:
            sys.exit(status)
    except SystemExit as exc:
        sys.exit(exc.code)
    except click.exceptions.Abort:
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.USAGE)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except Exception:  # a bug: say so plainly
        if debug:
            traceback.print_exc()
        else:
            click.echo("gradcheck: internal error (a bug); run again with --debug for the traceback",
                       err=True)
        sys.exit(ExitCode.BUG)


@functools.cache  # once per process, however many commands it runs
def _freeze_at_exit() -> None:
    """At exit, every object is left out of the collector's last searches for cycles:
    the process is ending and its memory goes with it, and searching the identity's,
    the LaTeX parser's and NumPy's objects took 20-30 ms of a `gradcheck verify`.
    Objects still go as their last reference does."""
    atexit.register(gc.freeze)


if __name__ == "__main__":  # pragma: no cover
    main()
