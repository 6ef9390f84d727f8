"""The tool's exceptions and exit codes.

Every error a user can cause (a bad file, a bad expression, a bad option) is a
`GradcheckError` and is shown as one line, never as a traceback.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable
from dataclasses import dataclass


class ExitCode(enum.IntEnum):
    """Process exit statuses of the `gradcheck` command."""

    OK = 0  # every claim passed or failed as expected
    FAILED = 1  # some claim failed, errored or passed unexpectedly
    USAGE = 2  # bad command line
    BUG = 3  # an internal error: please report it
    INTERRUPTED = 130  # Ctrl-C


@dataclass(frozen=True)
class Location:
    """Where in a catalogue file something is: the file, a key path and a line."""

    file: str
    key: str = ""
    line: int | None = None

    def at(self, key: str, line: int | None = None) -> Location:
        """The same file, another key (keeping the line unless a new one is known)."""
        return Location(self.file, key, line if line is not None else self.line)

    def __str__(self) -> str:
        where = f"{self.key} of {self.file}" if self.key else self.file
        return f"{where}, line {self.line}" if self.line is not None else where


class GradcheckError(Exception):
    """Base of every error the tool reports to a user as one line.

    The message reads ``<what is wrong> in <where>[: <hint>]``. Two branches: a
    `CatalogueError` when a file is loaded, an `EvaluationError` when an expression is
    evaluated at a point; a run-time error never poses as a bad file.
    """

    def __init__(self, message: str, location: Location | None = None, hint: str = "") -> None:
        self.message = message
        self.location = location
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = self.message
        if self.location is not None:
            text += f" in {self.location}"
        if self.hint:
            text += f": {self.hint}"
        return printable(text)  # a fragment of a file must not forge lines or move the cursor

    def located(self, location: Location) -> GradcheckError:
        """This error, placed at `location` unless it already has a place."""
        if self.location is not None:
            return self
        return type(self)(self.message, location, self.hint)


class CatalogueError(GradcheckError):
    """Load time: a catalogue file is unreadable or breaks the format."""


class ExpressionError(CatalogueError):
    """Load time: an expression cannot be parsed or is not allowed (an unknown name, a
    syntax error, a function called with the wrong arguments)."""


class EvaluationError(GradcheckError):
    """Run time: an expression cannot be evaluated at a point (shapes that do not fit, a
    singular matrix, an array over the size limit)."""


class EvalError(EvaluationError):
    """A function or operator cannot be applied to the values it was given (a plain
    message: the expression that called it adds where)."""


class NonFiniteError(EvaluationError):
    """An expression produced NaN or infinity."""


class ClaimError(EvaluationError):
    """A claim's own value refutes it: it is not finite, or has the wrong shape. For a
    claim recorded with `expect: fail` this is the expected failure (a claim that cannot
    be evaluated at all raises a plain EvaluationError: an ERROR whatever is expected)."""


class LayoutSlip(ClaimError):
    """A derivative claim with the shape of the other layout: the layout slip, judged as a
    failure (with whether it holds in that layout), not as an error of shapes."""

    def __init__(self, message: str, other: str) -> None:
        super().__init__(message)
        self.other = other

    def located(self, location: Location) -> GradcheckError:
        return self


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A hint naming the closest of `choices` to `name`, or "" when none is close."""
    close = difflib.get_close_matches(name, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


# Characters that a terminal, a log or an XML parser would act on rather than show: the C0
# and C1 controls (ESC starts a terminal sequence, CR and LF forge lines), DEL, and the
# Unicode marks that reorder or hide text (bidirectional overrides, zero-width joiners).
_HIDDEN = {*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x200B, 0x200C, 0x200D, 0x2028, 0x2029,
           *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF}
_ESCAPES = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _HIDDEN}
_ESCAPES.update({0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"})


def printable(text: str) -> str:
    """`text` with every control or hidden character shown as an escape (ESC as \\x1b,
    a newline as \\n): what came from a file reaches a terminal, a log, Markdown, HTML or
    XML as visible characters on one line."""
    return text.translate(_ESCAPES)
