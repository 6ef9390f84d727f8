"""JUnit XML for CI dashboards: one testcase per claim, failures with their diagnosis."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

from gradcheck.report.table import note, sizes_text
from gradcheck.report.verify import step_lines
from gradcheck.verdict import ClaimResult, Status


def junit_report(results: Sequence[ClaimResult], counts: Mapping[Status, int], seconds: float) -> str:
    suites = ET.Element("testsuites", name="gradcheck", time=f"{seconds:.3f}")
    suite = ET.SubElement(suites, "testsuite", name="gradcheck", tests=str(len(results)),
                          failures=str(counts[Status.FAIL] + counts[Status.XPASS]),
                          errors=str(counts[Status.ERROR]), skipped=str(counts[Status.XFAIL]),
                          time=f"{seconds:.3f}")
    for r in results:
        attributes = {"classname": r.identity, "name": f"claim {r.claim.index}: {r.description}" if r.claim else "file",
                      "file": r.path, "time": f"{r.seconds:.6f}", **({"line": str(r.line)} if r.line else {})}
        case = ET.SubElement(suite, "testcase", attributes)
        detail = f"{note(r)}\nerror {r.error if r.error is not None else '-'}; sizes {sizes_text(r.sizes)}"
        if r.details:
            detail += "\n" + "\n".join(r.details)
        if r.claim is not None and (r.claim.rest or r.claim.form == "derivation") and r.steps is not None:
            detail += "\n" + "\n".join(step_lines(r))  # a chain or a derivation, step by step
        if r.status in (Status.FAIL, Status.XPASS):
            ET.SubElement(case, "failure", message=note(r) or r.status.value, type=r.status.value).text = detail
        elif r.status is Status.ERROR:
            ET.SubElement(case, "error", message=r.message, type="ERROR").text = detail
        elif r.status is Status.XFAIL:
            reason = r.claim.reason if r.claim is not None else None
            ET.SubElement(case, "skipped", message=f"expected failure: {reason}")
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
