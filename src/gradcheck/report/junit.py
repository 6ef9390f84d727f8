"""JUnit XML for CI dashboards: one testcase per claim, failures with their diagnosis."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence

from gradcheck.report.table import note, sizes_text
from gradcheck.report.verify import step_lines
from gradcheck.verdict import ClaimResult, Status


def junit_chunks(results: Sequence[ClaimResult], counts: Mapping[Status, int], seconds: float) -> Iterator[str]:
    """The document as ElementTree writes it indented, a testcase at a time: only one
    claim's element is ever built."""
    suites = ET.Element("testsuites", name="gradcheck", time=f"{seconds:.3f}")
    suite = ET.SubElement(suites, "testsuite", name="gradcheck", tests=str(len(results)),
                          failures=str(counts[Status.FAIL] + counts[Status.XPASS]),
                          errors=str(counts[Status.ERROR]), skipped=str(counts[Status.XFAIL]),
                          time=f"{seconds:.3f}")
    if not results:
        yield _whole(suites)
        return
    ET.SubElement(suite, PLACE)  # where the testcases go: the text around it is the frame
    before, after = _whole(suites).split(f"<{PLACE} />")
    yield before
    between = ""
    for r in results:
        case = _testcase(r)
        ET.indent(case, level=2)
        yield between + ET.tostring(case, encoding="unicode")
        between = "\n    "  # as ElementTree indents a testcase's siblings
    yield after


PLACE = "testcases"


def _whole(root: ET.Element) -> str:
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _testcase(r: ClaimResult) -> ET.Element:
    attributes = {"classname": r.identity, "name": f"claim {r.claim.index}: {r.description}" if r.claim else "file",
                  "file": r.path, "time": f"{r.seconds:.6f}", **({"line": str(r.line)} if r.line else {})}
    case = ET.Element("testcase", attributes)
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
    return case
