"""The pytest plugin, tested with pytest's own pytester."""
from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

# imported here, outside the in-process runs: pytester restores sys.modules after each,
# and NumPy's extension modules cannot be loaded twice in one process
import numpy  # noqa: F401
import pytest

from conftest import CATALOGUE, WRONG_DERIVATION

RIGHT = """\
name: {name}
dims: {{n: 3}}
inputs:
  X: {{shape: [n, n], kind: invertible}}
function: logdet(X)
claims:
  - {{wrt: X, layout: denominator, derivative: inv(X).T}}
  - {{wrt: X, layout: numerator, derivative: inv(X).T}}
  - {{wrt: X, layout: numerator, derivative: inv(X).T, expect: fail, reason: layout slip}}
"""
COMPOSE = """\
version: "3"
services:
  web:
    image: nginx
"""
WORKFLOW = """\
name: ci
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps: [{run: echo hi}]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", logdet=RIGHT.format(name="logdet"), **{"docker-compose": COMPOSE})
    (pytester.path / ".github").mkdir()
    (pytester.path / ".github" / "ci.yml").write_text(WORKFLOW)
    (pytester.path / "trace.yml").write_text(RIGHT.format(name="trace").replace("logdet(X)", "logdet(X) + 0"))
    return pytester


def test_collects_identity_files_only(project: pytest.Pytester) -> None:
    result = project.runpytest("--collect-only", "-q")
    listed = [line for line in result.outlines if "::" in line]
    assert len(listed) == 6
    assert all(line.startswith(("logdet.yaml::", "trace.yml::")) for line in listed)


def test_verdicts_match_gradcheck_run(project: pytest.Pytester) -> None:
    result = project.runpytest("-q")
    result.assert_outcomes(passed=2, failed=2, xfailed=2)
    result.stdout.fnmatch_lines([
        "*logdet: claim 2 (derivative wrt X (numerator)): FAIL*",
        "*matches the claim transposed: it holds in layout denominator*",
    ])


def test_k_x_and_options(project: pytest.Pytester) -> None:
    project.runpytest("-k", "denominator").assert_outcomes(passed=2)
    project.runpytest("-x").assert_outcomes(passed=1, failed=1)
    project.runpytest("--gradcheck-size", "5", "--gradcheck-seed", "3", "-k", "logdet and denominator") \
        .assert_outcomes(passed=1)


def test_bad_file_is_one_failing_item(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", broken=RIGHT.format(name="broken").replace("inv(X).T}", "invv(X).T}", 1))
    result = pytester.runpytest("-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unknown function 'invv' in claim 1 of *broken.yaml*did you mean 'inv'?*"])


def test_unexpected_pass_fails(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", xpass=RIGHT.format(name="xpass").replace(
        "derivative: inv(X).T, expect", "derivative: inv(X), expect"))
    pytester.runpytest("-q").assert_outcomes(passed=1, failed=2)


def test_junitxml(project: pytest.Pytester) -> None:
    project.runpytest("--junitxml=report.xml")
    suite = ET.parse(project.path / "report.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "6" and suite.get("failures") == "2"


def test_xdist(project: pytest.Pytester) -> None:
    project.runpytest("-n", "2", "-p", "xdist").assert_outcomes(passed=2, failed=2, xfailed=2)


def test_can_be_turned_off(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\ngradcheck_collect = false\n")
    project.runpytest("--collect-only").assert_outcomes()


def test_bundled_seed_catalogue_through_pytest(pytester: pytest.Pytester) -> None:
    shutil.copytree(CATALOGUE / "seed", pytester.path / "seed")
    pytester.runpytest("seed", "-q", "-p", "no:cacheprovider").assert_outcomes(passed=100, xfailed=1)


def test_backward_and_forward_passes(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", passes="""\
name: passes
format: 3
inputs:
  A: {shape: [3, 3], kind: invertible}
function: inv(A)
claims:
  - {wrt: A, cotangent: G, vjp: -inv(A).T @ G @ inv(A).T}
  - {wrt: A, tangent: V, jvp: -inv(A) @ V.T @ inv(A)}
""")
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*claim 1: vjp wrt A (cotangent G) PASSED*", "*jvp: -inv(A) @ V.T @ inv(A)*",
                                 "*matches the claim with its tangent V transposed*"])


def test_a_failing_derivation_is_shown_step_by_step(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", steps=WRONG_DERIVATION)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*derivation:", "*step 1: trace(inv(X) @ dX)  (by eq. (10))", "*error *",
                                 "*step 2: sum(inv(X) * dX)", "*error * <- first wrong"])


def test_the_assert_fixture_fails_with_the_full_explanation(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_layer="""
        import numpy as np

        def test_right(gradcheck_assert):
            assert gradcheck_assert(lambda x: np.sum(x ** 2), lambda x: 2 * x, np.arange(1.0, 4.0)).ok

        def test_slip(gradcheck_assert):
            gradcheck_assert(lambda x: np.sum(x ** 2), lambda x: x, np.arange(1.0, 4.0))
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        ">*gradcheck_assert(lambda x: np.sum(x ** 2), lambda x: x, np.arange(1.0, 4.0))",
        "E*AssertionError: gradcheck: FAIL",
        "E*  grad wrt x: FAIL, relative error 5.0e-01 (noise floor *, central)",
        "E*    diagnosis: off by a factor: numerical = 2 x claim",
        "E*    largest difference at entry (3): claimed 3, numerical 6",
        "E*reproduce: gradcheck.check(f, grad, x, seed=0)",
    ])
    assert "api.py" not in result.stdout.str()
