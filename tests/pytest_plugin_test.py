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
    result = project.runpytest_subprocess("--collect-only", "-q")
    listed = [line for line in result.outlines if "::" in line]
    assert len(listed) == 6
    assert all(line.startswith(("logdet.yaml::", "trace.yml::")) for line in listed)


def test_verdicts_match_gradcheck_run(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-q")
    result.assert_outcomes(passed=2, failed=2, xfailed=2)
    result.stdout.fnmatch_lines([
        "*logdet: claim 2 (derivative wrt X (numerator)): FAIL*",
        "*matches the claim transposed: it holds in layout denominator*",
    ])


def test_k_x_and_options(project: pytest.Pytester) -> None:
    project.runpytest_subprocess("-k", "denominator").assert_outcomes(passed=2)
    project.runpytest_subprocess("-x").assert_outcomes(passed=1, failed=1)
    project.runpytest_subprocess("--gradcheck-size", "5", "--gradcheck-seed", "3", "-k", "logdet and denominator") \
        .assert_outcomes(passed=1)


def test_bad_file_is_one_failing_item(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", broken=RIGHT.format(name="broken").replace("inv(X).T}", "invv(X).T}", 1))
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unknown function 'invv' in claim 1 of *broken.yaml*did you mean 'inv'?*"])


def test_unexpected_pass_fails(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", xpass=RIGHT.format(name="xpass").replace(
        "derivative: inv(X).T, expect", "derivative: inv(X), expect"))
    pytester.runpytest_subprocess("-q").assert_outcomes(passed=1, failed=2)


def test_junitxml(project: pytest.Pytester) -> None:
    project.runpytest_subprocess("--junitxml=report.xml")
    suite = ET.parse(project.path / "report.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "6" and suite.get("failures") == "2"


def test_xdist(project: pytest.Pytester) -> None:
    project.runpytest_subprocess("-n", "2", "-p", "xdist").assert_outcomes(passed=2, failed=2, xfailed=2)


def test_can_be_turned_off(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\ngradcheck_collect = false\n")
    project.runpytest_subprocess("--collect-only").assert_outcomes()


def test_bundled_seed_catalogue_through_pytest(pytester: pytest.Pytester) -> None:
    shutil.copytree(CATALOGUE / "seed", pytester.path / "seed")
    pytester.runpytest_subprocess("seed", "-q", "-p", "no:cacheprovider").assert_outcomes(passed=100, xfailed=1)


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
    result = pytester.runpytest_subprocess("-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*claim 1: vjp wrt A (cotangent G) PASSED*", "*jvp: -inv(A) @ V.T @ inv(A)*",
                                 "*matches the claim with its tangent V transposed*"])


def test_a_failing_derivation_is_shown_step_by_step(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", steps=WRONG_DERIVATION)
    result = pytester.runpytest_subprocess()
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
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
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


@pytest.mark.parametrize("text", [
    "\ufeff" + RIGHT.format(name="bom"),  # a byte-order mark
    '{"name": flow, "inputs": {X: {shape: [3, 3]}}, "function": "trace(X)", "claims": [{differential: "trace(dX)"}]}\n',
    RIGHT.format(name="quoted").replace("inputs:", '"inputs":').replace("function:", "'function':"),
    RIGHT.format(name="typo").replace("claims:", "clams:"),  # a typo must fail, not vanish
])
def test_the_plugin_collects_what_gradcheck_run_reads(pytester: pytest.Pytester, text: str) -> None:
    (pytester.path / "odd.yaml").write_text(text, encoding="utf-8")
    from gradcheck.catalogue import is_identity_file

    assert is_identity_file(pytester.path / "odd.yaml")
    result = pytester.runpytest_subprocess("-q")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) >= 1, result.stdout.str()
    if "clams" in text:
        assert outcomes.get("failed") == 1 and "unknown key 'clams'" in result.stdout.str()


@pytest.mark.parametrize(("option", "value"), [("--gradcheck-size", "0"), ("--gradcheck-rtol", "5"),
                                               ("--gradcheck-trials", "0"), ("--gradcheck-seed", "-1"),
                                               ("--gradcheck-timeout", "nan")])
def test_options_out_of_range_are_usage_errors(project: pytest.Pytester, option: str, value: str) -> None:
    result = project.runpytest_subprocess(f"{option}={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "expected" in result.stderr.str()


def test_a_stuck_identity_is_stopped_at_the_timeout(pytester: pytest.Pytester) -> None:
    # a 5000 x 5000 logm: one native call that no alarm interrupts, far past 1 s
    (pytester.path / "slow.yaml").write_text(
        RIGHT.format(name="slow").replace("n: 3", "n: 1500").replace("logdet(X)", "trace(logm(X @ X.T))"))
    (pytester.path / "fast.yaml").write_text(RIGHT.format(name="fast"))
    result = pytester.runpytest_subprocess("--gradcheck-timeout", "1", "-q", timeout=120)
    out = result.stdout.str()
    assert "stopped after 1 s (--timeout)" in out
    result.assert_outcomes(passed=1, failed=4, xfailed=1)


def test_a_label_with_a_double_colon_keeps_the_node_id_whole(pytester: pytest.Pytester) -> None:
    (pytester.path / "colon.yaml").write_text(RIGHT.format(name="colon").replace(
        "reason: layout slip}", "reason: layout slip, label: 'a::b'}"))
    result = pytester.runpytest_subprocess("--collect-only", "-q")
    assert any(line.endswith("claim 3: a: :b") for line in result.outlines), result.outlines


def test_every_option_has_an_ini_default_that_the_command_line_overrides(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\ngradcheck_size = 2\ngradcheck_trials = 1\ngradcheck_method = richardson\n")
    from_ini = project.runpytest_subprocess("-q", "-k", "logdet")
    from_ini.assert_outcomes(passed=1, failed=1, xfailed=1)
    assert "sizes n=2" in from_ini.stdout.str()
    overridden = project.runpytest_subprocess("-q", "-k", "logdet", "--gradcheck-size", "5")
    assert "sizes n=5" in overridden.stdout.str()
    project.makeini("[pytest]\ngradcheck_rtol = 5\n")
    bad = project.runpytest_subprocess("-q")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR and "ini option gradcheck_rtol" in bad.stderr.str()
    project.makeini("[pytest]\ngradcheck_method = weird\n")
    assert project.runpytest_subprocess("-q").ret == pytest.ExitCode.USAGE_ERROR
