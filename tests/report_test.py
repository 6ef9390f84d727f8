"""Machine-readable reports: JSON against its schema, JUnit as XML, Markdown, atomic files."""
from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from click.testing import Result

from conftest import CATALOGUE, ROOT, WRONG_DERIVATION

SCHEMA = json.loads((ROOT / "src" / "gradcheck" / "schemas" / "report.schema.json").read_text())
MIXED = """\
name: mixed
dims: {n: 3}
inputs:
  X: {shape: [n, n], kind: invertible}
function: logdet(X)
claims:
  - {wrt: X, layout: denominator, derivative: inv(X).T}
  - {wrt: X, layout: numerator, derivative: inv(X).T}
  - {wrt: X, layout: numerator, derivative: inv(X).T, expect: fail, reason: layout slip}
  - {wrt: X, layout: numerator, derivative: inv(X) / 0}
"""


@pytest.fixture
def mixed(write: Callable[..., Path]) -> Path:
    return write(MIXED, "mixed.yaml")


def test_json_report_follows_its_schema(cli_invoke: Callable[..., Result], mixed: Path) -> None:
    result = cli_invoke("run", str(mixed), "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.output)
    jsonschema.validate(document, SCHEMA)
    assert [r["status"] for r in document["results"]] == ["PASS", "FAIL", "XFAIL", "ERROR"]
    assert document["summary"] == {**document["summary"], "passed": 1, "failed": 1, "errors": 1, "xfailed": 1}
    assert document["results"][1]["hint"] == "matches the claim transposed: it holds in layout denominator"


PASSES = """\
name: passes
format: 3
dims: {n: 3}
inputs:
  A: {shape: [n, n], kind: invertible}
function: inv(A)
claims:
  - {wrt: A, cotangent: G, vjp: -inv(A).T @ G @ inv(A).T}
  - {wrt: A, tangent: V, jvp: -inv(A) @ V.T @ inv(A)}
"""


def test_backward_and_forward_passes_in_every_report(cli_invoke: Callable[..., Result],
                                                      write: Callable[..., Path], tmp_path: Path) -> None:
    path = write(PASSES, "passes.yaml")
    document = json.loads(cli_invoke("run", str(path), "--format", "json").output)
    jsonschema.validate(document, SCHEMA)
    claims = [(r["claim"]["form"], r["claim"]["wrt"], r["claim"]["direction"], r["status"]) for r in document["results"]]
    assert claims == [("vjp", "A", "G", "PASS"), ("jvp", "A", "V", "FAIL")]
    assert document["results"][1]["hint"] == "matches the claim with its tangent V transposed"
    out = tmp_path / "junit.xml"
    cli_invoke("run", str(path), "--format", "junit", "--output", str(out))
    names = [case.get("name") for case in ET.parse(out).getroot().iter("testcase")]
    assert names == ["claim 1: vjp wrt A (cotangent G)", "claim 2: jvp wrt A (tangent V)"]
    markdown = cli_invoke("run", str(path), "--format", "markdown").output
    assert "vjp wrt A (cotangent G)" in markdown and "tangent V transposed" in markdown


def test_a_bad_file_is_a_row_of_its_own_in_every_report(cli_invoke: Callable[..., Result],
                                                           write: Callable[..., Path], tmp_path: Path) -> None:
    bad = write("name: broken\nfunction: [\n", "broken.yaml")
    document = json.loads(cli_invoke("run", str(bad), "--format", "json").output)
    jsonschema.validate(document, SCHEMA)
    [row] = document["results"]
    assert (row["status"], row["description"], row["claim"]["form"], row["claim"]["index"]) == \
        ("ERROR", "(file)", "file", 0)
    assert row["message"].startswith("malformed YAML") and "broken.yaml" in row["message"]
    out = tmp_path / "junit.xml"
    cli_invoke("run", str(bad), "--format", "junit", "--output", str(out))
    [case] = ET.parse(out).getroot().iter("testcase")
    assert case.get("name") == "file" and case.find("error") is not None


@pytest.mark.catalogue
def test_json_report_of_the_bundled_catalogue_follows_the_schema(cli_invoke: Callable[..., Result],
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = cli_invoke("run", str(CATALOGUE / "seed"), "--format", "json", "--output", str(out))
    assert result.exit_code == 0
    assert "passed" in result.output  # the table still goes to the terminal
    jsonschema.validate(json.loads(out.read_text()), SCHEMA)


def test_junit_report_parses_as_xml(cli_invoke: Callable[..., Result], mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "junit.xml"
    assert cli_invoke("run", str(mixed), "--format", "junit", "--output", str(out)).exit_code == 1
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("4", "1", "1", "1")
    cases = suite.findall("testcase")
    failure = cases[1].find("failure")
    assert failure is not None and "it holds in layout denominator" in (failure.get("message") or "")
    assert cases[3].find("error") is not None and cases[2].find("skipped") is not None


def test_markdown_report(cli_invoke: Callable[..., Result], mixed: Path) -> None:
    text = cli_invoke("run", str(mixed), "--format", "markdown").output
    assert text.startswith("## gradcheck")
    assert "**1 passed, 1 failed, 1 errors**" in text
    assert "### Needs attention" in text and "| mixed | derivative wrt X (numerator) | ❌ FAIL |" in text


def test_output_is_written_atomically(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from gradcheck.report import output

    target = tmp_path / "report.json"
    target.write_text("previous report")

    def boom(src: str, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(output.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        output.write_atomic(target, "new report")
    assert target.read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left


def test_a_chain_is_shown_link_by_link(cli_invoke: Callable[..., Result], write: Callable[..., Path],
                                       tmp_path: Path) -> None:
    write("""\
name: chain
format: 3
inputs:
  A: {shape: [3, 3]}
function: trace(A @ A.T)
claims:
  - equals: [sum(A * A), sum(A * A.T), trace(A.T @ A)]
""", "chain.yaml")
    verify = cli_invoke("verify", "chain", "--catalogue", str(tmp_path))
    assert verify.exit_code == 1
    lines = [line.strip() for line in verify.output.splitlines()]
    assert "equals: f" in lines
    at = {line: k for k, line in enumerate(lines)}
    figures = [lines[at[f"link {k}: = {source}"] + 1] for k, source in
               enumerate(["sum(A * A)", "sum(A * A.T)", "trace(A.T @ A)"], start=1)]
    assert all(line.startswith("error ") for line in figures)
    assert [line.endswith("<- first wrong") for line in figures] == [False, True, False]
    assert "diagnosis: link 2: sum(A * A) = sum(A * A.T) does not hold" in verify.output
    document = json.loads(cli_invoke("run", str(tmp_path), "--format", "json").output)
    jsonschema.validate(document, SCHEMA)
    assert document["results"][0]["claim"]["expression"] == "sum(A * A) = sum(A * A.T) = trace(A.T @ A)"


def test_a_derivation_in_the_json_report_keeps_its_steps(cli_invoke: Callable[..., Result],
                                                          write: Callable[..., Path]) -> None:
    path = write(WRONG_DERIVATION + "    read_off: {wrt: X, layout: denominator, derivative: inv(X)}\n", "d.yaml")
    document = json.loads(cli_invoke("run", str(path), "--format", "json").output)
    jsonschema.validate(document, SCHEMA)
    [row] = document["results"]
    assert row["claim"]["steps"] == [{"expression": "trace(inv(X) @ dX)", "by": "eq. (10)"},
                                     {"expression": "sum(inv(X) * dX)"}]
    assert row["claim"]["read_off"] == {"wrt": "X", "layout": "denominator", "derivative": "inv(X)"}
    assert row["status"] == "FAIL" and row["hint"].startswith("step 2: trace(inv(X) @ dX) = sum(inv(X) * dX)")
    out = path.parent / "junit.xml"
    cli_invoke("run", str(path), "--format", "junit", "--output", str(out))
    [failure] = ET.parse(out).getroot().iter("failure")
    assert failure.text is not None and "step 2: sum(inv(X) * dX)" in failure.text and "<- first wrong" in failure.text


def test_the_report_schema_knows_every_claim_form() -> None:
    from gradcheck.schema import FORMS

    form = SCHEMA["$defs"]["result"]["properties"]["claim"]["properties"]["form"]
    assert form["enum"] == [*FORMS, "file"]


def _results(mixed: Path, copies: int) -> tuple[list[object], dict[object, int]]:
    """The mixed file's four results (every status), `copies` times over, and their counts."""
    from gradcheck.catalogue import load_file
    from gradcheck.checker import Options, check_identity
    from gradcheck.verdict import Status

    results = check_identity(load_file(mixed), Options()) * copies
    return list(results), {s: sum(r.status is s for r in results) for s in Status}


@pytest.mark.parametrize("copies", [0, 1, 3])
def test_the_json_report_is_streamed_as_json_dumps_writes_the_document(mixed: Path, copies: int) -> None:
    from gradcheck import __version__
    from gradcheck.checker import Options
    from gradcheck.report.json_report import SCHEMA_VERSION, claim_record, json_chunks, summary_record

    results, counts = _results(mixed, copies)
    if results:  # a label with characters that split lines elsewhere, kept raw by json.dumps
        claim = dataclasses.replace(results[0].claim, label="a\u2028b\x85c\nd")
        results[0] = dataclasses.replace(results[0], claim=claim)
    options = Options()
    document = {"schema": "gradcheck-report", "version": SCHEMA_VERSION, "gradcheck": __version__,
                "options": {"seed": options.seed, "trials": options.trials, "rtol": options.rtol,
                            "method": options.method, "max_noise": options.max_noise, "size": options.size,
                            "dims": {}},
                "summary": summary_record(counts, 1.25), "results": [claim_record(r, options) for r in results]}
    chunks = list(json_chunks(iter(results), counts, 1.25, options))
    assert "".join(chunks) == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    assert len(chunks) == copies * 4 + 2  # the head, a chunk a result, the end


@pytest.mark.parametrize("copies", [0, 1, 3])
def test_the_junit_report_is_streamed_as_elementtree_indents_the_document(mixed: Path, copies: int) -> None:
    from gradcheck.report import junit

    results, counts = _results(mixed, copies)
    suites = ET.Element("testsuites", name="gradcheck", time="1.250")
    suite = ET.SubElement(suites, "testsuite", name="gradcheck", tests=str(len(results)),
                          failures=str(copies), errors=str(copies), skipped=str(copies), time="1.250")
    suite.extend(junit._testcase(r) for r in results)
    ET.indent(suites)
    whole = ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
    chunks = list(junit.junit_chunks(results, counts, 1.25))
    assert "".join(chunks) == whole
    assert len(chunks) == (copies * 4 + 2 if copies else 1)


@pytest.mark.parametrize("copies", [0, 1, 3])
def test_the_html_and_markdown_reports_hold_the_problems_then_every_row(mixed: Path, copies: int) -> None:
    from gradcheck.report.html import html_chunks
    from gradcheck.report.markdown import markdown_chunks

    results, counts = _results(mixed, copies)
    page = "".join(html_chunks(results, counts, 1.25))
    assert page.count("<table>") == (2 if copies else 1) and page.endswith("</body>\n</html>\n")
    assert page.count("<tr><td>mixed</td>") == 4 * copies + 2 * copies  # every row; FAIL and ERROR twice
    summary = "".join(markdown_chunks(results, counts, 1.25))
    assert ("### Needs attention" in summary) == bool(copies)
    assert summary.count("| mixed |") == 4 * copies + 2 * copies and summary.endswith("\n</details>\n")


def test_a_report_to_a_file_is_written_as_it_is_made(cli_invoke: Callable[..., Result], mixed: Path,
                                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file receives the report in pieces, never the whole text at once."""
    from gradcheck.report import output

    sizes: list[int] = []
    pieces = output.pieces
    monkeypatch.setattr(output, "pieces", lambda chunks: (sizes.append(len(p)) or p for p in pieces(chunks, 200)))
    out = tmp_path / "report.json"
    assert cli_invoke("run", str(mixed), "--json", str(out)).exit_code == 1
    assert len(sizes) > 5 and sum(sizes) == len(out.read_text()) and max(sizes) < len(out.read_text()) / 2
    jsonschema.validate(json.loads(out.read_text()), SCHEMA)
