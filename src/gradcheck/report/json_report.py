"""The JSON report of `gradcheck run --format json` (schema: schemas/report.schema.json).

Versioned: `version` changes only when a field is removed or changes meaning; new fields
may be added within a version.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from gradcheck import __version__
from gradcheck.catalogue import Claim
from gradcheck.options import Options
from gradcheck.verdict import ClaimResult, Status

SCHEMA_VERSION = 1


def _number(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _steps(c: Claim) -> dict[str, Any]:
    """A chain's links or a derivation's steps, each with the rule it cites, and the
    derivative a derivation reads off."""
    if not c.rest and c.form != "derivation":
        return {}
    steps = [{"expression": e.source, **({"by": c.by[k]} if k < len(c.by) and c.by[k] else {})}
             for k, e in enumerate(c.links)]
    read_off = {"read_off": {"wrt": c.wrt, "layout": c.layout, "derivative": c.read_off.source}} \
        if c.read_off is not None else {}
    return {"steps": steps, **read_off}


def claim_record(r: ClaimResult, options: Options) -> dict[str, Any]:
    c = r.claim
    # a file that could not be loaded: report v1 gives it claim index 0 and form "file"
    claim = ({"index": c.index, "form": c.form, "label": c.label, "wrt": c.wrt, "layout": c.layout,
              "expression": c.source, "expect_fail": c.expect_fail, "reason": c.reason,
              **({"direction": c.direction} if c.direction else {}),
              **({"blocks": list(c.blocks)} if c.blocks else {}), **_steps(c)} if c is not None else
             {"index": 0, "form": "file", "label": r.description, "wrt": None, "layout": None, "expression": "",
              "expect_fail": False, "reason": None})
    return {
        "identity": r.identity,
        "file": r.path,
        "line": r.line,
        "claim": claim,
        "description": r.description,
        "sizes": dict(r.sizes),
        "seed": options.seed,
        "method": r.method or options.method,
        "error": _number(r.error),
        "error_estimate": _number(r.noise),
        "status": r.status.value,
        "hint": r.hint,
        "message": r.message,
        "notes": list(r.notes),
        "warnings": list(r.warnings),
        "evaluations": r.nfev,
        "seconds": round(r.seconds, 6),
    }


def summary_record(counts: Mapping[Status, int], seconds: float) -> dict[str, Any]:
    return {
        "passed": counts[Status.PASS], "failed": counts[Status.FAIL], "errors": counts[Status.ERROR],
        "xfailed": counts[Status.XFAIL], "xpassed": counts[Status.XPASS], "seconds": round(seconds, 3),
    }


def json_chunks(results: Iterable[ClaimResult], counts: Mapping[Status, int], seconds: float,
                options: Options) -> Iterator[str]:
    """The report as `json.dumps(document, indent=2)` writes it, a result at a time: the
    document is never whole in memory (at 30,000 claims it was, with its records, the
    largest thing a run held)."""
    document = {
        "schema": "gradcheck-report",
        "version": SCHEMA_VERSION,
        "gradcheck": __version__,
        "options": {
            "seed": options.seed, "trials": options.trials, "rtol": options.rtol, "method": options.method,
            "max_noise": options.max_noise, "size": options.size, "dims": dict(options.dims),
        },
        "summary": summary_record(counts, seconds),
        "results": [],
    }
    head = json.dumps(document, indent=2, ensure_ascii=False)
    assert head.endswith(EMPTY_END)  # "results" is the last key
    yield head[:-len(EMPTY_END)]
    opening = "[\n"
    for r in results:
        record = json.dumps(claim_record(r, options), indent=2, ensure_ascii=False)
        # a record's lines, two levels in: every "\n" is one of json.dumps's own (it escapes
        # those in strings; not U+2028 or U+0085, which splitlines would break at)
        yield opening + "    " + record.replace("\n", "\n    ")
        opening = ",\n"
    yield ("[]" if opening == "[\n" else "\n  ]") + "\n}\n"


EMPTY_END = "[]\n}"  # how a document whose last key holds an empty list ends
