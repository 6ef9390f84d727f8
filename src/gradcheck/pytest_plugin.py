"""pytest plugin: identity files as test items, one per claim.

`pytest identities/` collects every identity file under the given paths, with the same
verdicts as `gradcheck run`. A YAML file is an identity file when `gradcheck.catalogue.is_identity_file` says so (its top
level has `name` and another key of the format, or a near miss of one), so the plugin never
collects a CI config or a docker-compose file in other people's projects; it can also be
turned off with `-p no:gradcheck` or the ini option `gradcheck_collect = false`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _ranged(kind: type, lo: float, hi: float | None) -> Any:
    """An argparse type: a `kind` number in [lo, hi] (finite), as gradcheck's own options."""
    import argparse
    import math

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < lo or (hi is not None and value > hi):
            top = "" if hi is None else f" and at most {hi:g}"
            raise argparse.ArgumentTypeError(f"expected at least {lo:g}{top}, got {text}")
        return value

    return convert


def _option_table() -> list[tuple[str, Any, str]]:
    """Each option: its name (after gradcheck-), its type, its help."""
    from gradcheck.options import DEFAULT_TIMEOUT, MAX_SIZE, MAX_TIMEOUT, MAX_TRIALS, RTOL_RANGE

    return [("seed", _ranged(int, 0, None), "seed of the random points"),
            ("trials", _ranged(int, 1, MAX_TRIALS), "random points per identity"),
            ("size", _ranged(int, 1, MAX_SIZE), "set every dimension to this size"),
            ("method", _method, "numerical method: central, richardson, complex or auto"),
            ("rtol", _ranged(float, *RTOL_RANGE), "tolerance floor"),
            ("timeout", _ranged(float, 0.1, MAX_TIMEOUT),
             f"stop an identity after this many seconds (default {DEFAULT_TIMEOUT:g}): ERROR")]


def _method(text: str) -> str:
    import argparse

    if text not in ("central", "richardson", "complex", "auto"):
        raise argparse.ArgumentTypeError(f"expected central, richardson, complex or auto, got {text!r}")
    return text


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradcheck", "checking matrix-calculus identity files")
    for name, kind, text in _option_table():
        group.addoption(f"--gradcheck-{name}", type=kind, default=None, help=text)
        # the same in the ini file (pytest.ini, pyproject.toml's [tool.pytest.ini_options]);
        # the command line wins
        parser.addini(f"gradcheck_{name}", f"{text} (--gradcheck-{name} overrides it)", default=None)
    parser.addini("gradcheck_collect", "collect gradcheck identity files (default true)", type="bool",
                  default=True)


def pytest_configure(config: pytest.Config) -> None:
    """An ini value out of range is a usage error, as the option's would be."""
    import argparse

    for name, kind, _ in _option_table():
        raw = config.getini(f"gradcheck_{name}")
        if raw in (None, "") or config.getoption(f"gradcheck_{name}") is not None:
            continue
        try:
            kind(str(raw).strip())
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"ini option gradcheck_{name}: {exc}") from None


@pytest.fixture
def gradcheck_assert() -> Any:
    """`gradcheck.assert_check` for a test: ``gradcheck_assert(f, grad, x)`` passes, or fails
    the test with the full explanation (errors, noise floor, diagnosis, worst entry, how to
    reproduce) as pytest's failure message."""
    from gradcheck.api import check

    def asserting(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # the failure is the user's line, not gradcheck's frames
        result = check(*args, **kwargs)
        if not result.ok:
            raise AssertionError(result.explain())
        return result

    return asserting


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml") or not parent.config.getini("gradcheck_collect"):
        return None
    from gradcheck.catalogue import is_identity_file  # the rule `gradcheck run` reports by too

    if not is_identity_file(file_path):
        return None
    return IdentityFile.from_parent(parent, path=file_path)


def _options(config: pytest.Config) -> Any:
    from gradcheck.options import Options

    values = {}
    for name, kind, _ in _option_table():
        value = config.getoption(f"gradcheck_{name}")
        raw = config.getini(f"gradcheck_{name}")
        if value is None and raw not in (None, ""):
            value = kind(str(raw).strip())  # checked at configure time
        if value is not None:
            values[name] = value
    return Options(**values)


class IdentityFile(pytest.File):
    """One identity file: an item per claim (or one failing item if the file is bad)."""

    def collect(self) -> Iterator[pytest.Item]:
        from gradcheck.catalogue import load_file
        from gradcheck.errors import CatalogueError

        try:
            identity = load_file(self.path)
        except CatalogueError as exc:
            yield BadFileItem.from_parent(self, name="file", error=str(exc))
            return
        self.identity = identity
        self.results: list[Any] | None = None
        for claim in identity.claims:
            yield ClaimItem.from_parent(self, name=_node_name(claim.test_name()), index=claim.index)

    def verdicts(self) -> list[Any]:
        """Check the whole identity once (claims share evaluations) and keep the results."""
        if self.results is None:
            from gradcheck.checker import check_supervised

            # in a worker process, as `gradcheck run` does: the timeout ends even a stuck
            # native call, and a crash is this file's failure, not the session's end
            self.results = check_supervised(self.identity, _options(self.config))
        return self.results


def _node_name(text: str) -> str:
    """A test name from a label: on one line, and without '::', which would split the node id."""
    from gradcheck.errors import printable

    return printable(text).replace("::", ": :")


class GradcheckFailure(Exception):
    """A claim that does not hold (for a claim recorded as wrong, the expected outcome)."""


class ClaimErrored(Exception):
    """A claim (or its file) that could not be evaluated: always a failure."""


class ClaimItem(pytest.Item):
    def __init__(self, *, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index = index
        parent = self.parent
        assert isinstance(parent, IdentityFile)
        claim = parent.identity.claims[index - 1]
        if claim.expect_fail:
            self.add_marker(pytest.mark.xfail(reason=claim.reason or "", strict=True, raises=GradcheckFailure))

    def runtest(self) -> None:
        from gradcheck.verdict import Status

        parent = self.parent
        assert isinstance(parent, IdentityFile)
        result = next(r for r in parent.verdicts() if r.claim.index == self.index)
        if result.status is Status.ERROR:
            raise ClaimErrored(describe(result))
        if result.status in (Status.FAIL, Status.XFAIL):
            raise GradcheckFailure(describe(result))
        # PASS, or XPASS, which the strict xfail marker of a claim recorded as wrong fails

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, (GradcheckFailure, ClaimErrored)):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        parent = self.parent
        assert isinstance(parent, IdentityFile)
        claim = parent.identity.claims[self.index - 1]
        return self.path, (claim.line - 1) if claim.line else None, f"{parent.identity.name}: {self.name}"


class BadFileItem(pytest.Item):
    def __init__(self, *, error: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise ClaimErrored(self.error)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


def describe(result: Any) -> str:
    """The failure text: what was claimed, the verdict, the error and the diagnosis."""
    from gradcheck.report.table import note, sizes_text
    from gradcheck.report.verify import step_lines

    claim = result.claim
    steps = step_lines(result) if claim.rest or claim.form == "derivation" else [f"{claim.form}: {claim.source}"]
    lines = [f"{result.identity}: claim {claim.index} ({claim.describe()}): {result.status.value}",
             *(f"  {line}" for line in steps),
             f"  sizes {sizes_text(result.sizes)}; worst relative error "
             f"{'-' if result.error is None else format(result.error, '.2e')}"]
    if note(result):
        lines.append(f"  {note(result)}")
    lines += [f"  {d}" for d in result.details]
    return "\n".join(lines)
