from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import CATALOGUE, ROOT
from gradcheck.cli import cli

RIGHT = """\
name: {name}
dims: {{n: 3}}
inputs:
  X: {{shape: [n, n], kind: invertible}}
function: logdet(X)
claims:
  - {{wrt: X, layout: denominator, derivative: inv(X).T}}
"""
WRONG = RIGHT + "  - {{wrt: X, layout: numerator, derivative: inv(X).T}}\n"


@pytest.mark.catalogue
def test_run_bundled_catalogue_passes(cli_invoke: Callable[..., Result]) -> None:
    result = cli_invoke("run", str(CATALOGUE))
    assert result.exit_code == 0, result.output
    assert " 0 failed, 0 errors" in result.output
    assert "logdet" in result.output and "XFAIL" in result.output


def test_run_fails_on_a_wrong_claim(cli_invoke: Callable[..., Result], write: Callable[..., Path]) -> None:
    path = write(WRONG.format(name="wrong"))
    result = cli_invoke("run", str(path))
    assert result.exit_code == 1
    assert "1 passed, 1 failed, 0 errors" in result.output
    assert "FAIL wrong: derivative wrt X (numerator): matches the claim transposed: it holds in layout" \
           " denominator" in " ".join(result.output.split())


def test_run_reports_a_bad_file_and_goes_on(cli_invoke: Callable[..., Result], write: Callable[..., Path],
                                             tmp_path: Path) -> None:
    write(RIGHT.format(name="good"), "good.yaml")
    write(RIGHT.format(name="bad").replace("claims:", "clams:"), "bad.yaml")
    result = cli_invoke("run", str(tmp_path))
    assert result.exit_code == 1
    assert "1 passed, 0 failed, 1 errors" in result.output
    flat = " ".join(result.output.split())
    assert f"unknown key 'clams' in top level of {tmp_path / 'bad.yaml'}, line 6: did you mean 'claims'?" in flat


def test_run_filter_and_expected_failure_only(cli_invoke: Callable[..., Result]) -> None:
    result = cli_invoke("run", str(CATALOGUE / "seed"), "-k", "logdet")
    assert result.exit_code == 0
    assert "7 passed, 0 failed, 0 errors, 1 expected failures" in result.output
    assert "trace_cyclic" not in result.output


def test_an_empty_selection_is_a_usage_error(cli_invoke: Callable[..., Result], tmp_path: Path) -> None:
    result = cli_invoke("run", str(CATALOGUE), "-k", "no-such-identity")
    assert result.exit_code == 2
    assert "no identity name contains 'no-such-identity' (" in result.output and "'gradcheck list'" in result.output
    empty = cli_invoke("run", str(tmp_path))
    assert empty.exit_code == 2 and f"no identity files (*.yaml, *.yml) under {tmp_path}" in empty.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run"], "Missing argument 'PATHS...'"),
        (["run", "does-not-exist"], "Path 'does-not-exist' does not exist"),
        (["run", str(CATALOGUE), "--dim", "n5"], "expected NAME=SIZE with SIZE from 1 to 20000, got 'n5'"),
        (["run", str(CATALOGUE), "--size", "0"], "0 is not in the range 1<=x<=20000"),
        (["run", str(CATALOGUE), "--trials", "x"], "'x' is not a valid integer"),
        (["verify", "nope", "--catalogue", str(CATALOGUE)], "no identity named 'nope'"),
        (["verify", "logdett", "--catalogue", str(CATALOGUE)], "did you mean 'logdet'?"),
    ],
)
def test_usage_errors_exit_2(cli_invoke: Callable[..., Result], args: list[str], message: str) -> None:
    result = cli_invoke(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_verify_explains_a_failure(cli_invoke: Callable[..., Result], write: Callable[..., Path],
                                   tmp_path: Path) -> None:
    write(WRONG.format(name="slip"))
    result = cli_invoke("verify", "slip", "--catalogue", str(tmp_path), "--size", "2", "--trials", "2")
    assert result.exit_code == 1
    out = result.output
    assert "function: logdet(X)" in out
    assert "trial 1: FAIL error" in out and "noise " in out
    assert "trial 2: FAIL" not in out and "not measured at further points (one failure decides)" in out
    assert "diagnosis: matches the claim transposed: it holds in layout denominator" in out
    assert "claimed | numerical" in out and "largest difference at entry" in out


def test_verify_passes_on_the_bundled_logdet(cli_invoke: Callable[..., Result]) -> None:
    result = cli_invoke("verify", "logdet", "--catalogue", str(CATALOGUE), "--size", "5")
    assert result.exit_code == 0, result.output
    assert "expected to fail:" in result.output and "XFAIL" in result.output


def test_verify_finds_the_local_then_the_installed_catalogue(cli_invoke: Callable[..., Result],
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./identities here: the installed catalogue is used
    result = cli_invoke("verify", "trace_cyclic")
    assert result.exit_code == 0 and "tr(ABC) = tr(BCA)" in result.output
    (tmp_path / "identities").mkdir()
    (tmp_path / "identities" / "mine.yaml").write_text(RIGHT.format(name="mine"))
    assert cli_invoke("verify", "mine").exit_code == 0


def test_verify_reports_a_broken_file_by_name(cli_invoke: Callable[..., Result], write: Callable[..., Path],
                                              tmp_path: Path) -> None:
    write(RIGHT.format(name="broken").replace("logdet(X)", "logdett(X)"), "broken.yaml")
    result = cli_invoke("verify", "broken", "--catalogue", str(tmp_path))
    assert result.exit_code == 1
    assert "unknown function 'logdett'" in result.output


def test_list(cli_invoke: Callable[..., Result]) -> None:
    result = cli_invoke("list", str(CATALOGUE / "seed"))
    assert result.exit_code == 0
    assert "logdet" in result.output and "Gradient of the log-determinant" in result.output


@pytest.mark.parametrize("command", ["run", "verify", "list"])
def test_help_has_an_example(cli_invoke: Callable[..., Result], command: str) -> None:
    result = cli_invoke(command, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.output and f"gradcheck {command}" in result.output


def gradcheck(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("gradcheck")
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_subprocess_run_and_exit_codes(tmp_path: Path) -> None:
    ok = gradcheck("run", "identities/seed")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "0 failed, 0 errors" in ok.stdout
    (tmp_path / "wrong.yaml").write_text(WRONG.format(name="wrong"))
    assert gradcheck("run", str(tmp_path)).returncode == 1
    usage = gradcheck("run", "--size", "nope", "identities")
    assert usage.returncode == 2 and "Invalid value for '--size'" in usage.stderr


def test_subprocess_a_bad_expression_typed_is_one_line_and_a_usage_error() -> None:
    bad = gradcheck("check", "logdet(X)", "--input", "X=3x3:invertible", "--claim", "inv(Y).T",
                    "--layout", "denominator")
    assert bad.returncode == 2
    assert bad.stderr == "gradcheck: error: unknown name 'Y' in --claim\n"
    missing = gradcheck("verify", "logdt")
    assert missing.returncode == 2 and "did you mean 'logdet'?" in missing.stderr


def test_subprocess_verify_from_another_directory(tmp_path: Path) -> None:
    result = gradcheck("verify", "logdet", "--size", "5", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "logdet: Gradient of the log-determinant" in result.stdout
    assert "Traceback" not in result.stderr


def test_labels_are_not_read_as_markup(cli_invoke: Callable[..., Result], write: Callable[..., Path]) -> None:
    path = write(RIGHT.format(name="markup").replace("inv(X).T}", "inv(X).T, label: '[bold]x'}"))
    result = cli_invoke("run", str(path))
    assert "[bold]x" in result.output


def test_check_without_a_file(cli_invoke: Callable[..., Result]) -> None:
    ok = cli_invoke("check", "log(det(X))", "--input", "X=4x4:spd", "--claim", "inv(X).T", "--layout", "denominator")
    assert ok.exit_code == 0 and "PASS" in ok.output
    wrong = cli_invoke("check", "x.T @ A @ x", "--input", "x=5x1", "--constant", "A=5x5", "--hessian", "2 * A")
    assert wrong.exit_code == 1 and "diagnosis: matches the symmetric part of the claim" in wrong.output
    assert cli_invoke("check", "trace(X)", "--input", "X=3x3", "--differential", "trace(dX)").exit_code == 0
    usage = cli_invoke("check", "trace(X)", "--input", "X=3by3")
    assert usage.exit_code == 2 and "expected NAME=SHAPE[:KIND] such as X=4x4:spd" in usage.output
    assert "give a claim" in cli_invoke("check", "trace(X)", "--input", "X=3x3").output


def test_check_a_backward_and_a_forward_pass(cli_invoke: Callable[..., Result]) -> None:
    ok = cli_invoke("check", "X @ A", "--input", "X=3x4", "--constant", "A=4x2", "--vjp", "S @ A.T",
                    "--cotangent", "S", "--jvp", "V @ A")
    assert ok.exit_code == 0 and "vjp wrt X (cotangent S) PASS" in ok.output and "jvp wrt X (tangent V) PASS" in ok.output
    wrong = cli_invoke("check", "X @ A", "--input", "X=3x4", "--constant", "A=4x2", "--vjp", "-G @ A.T")
    assert wrong.exit_code == 1 and "diagnosis: matches the claim negated" in wrong.output
    shape = cli_invoke("check", "X @ A", "--input", "X=3x4", "--constant", "A=4x2", "--vjp", "A @ G.T")
    assert shape.exit_code == 1 and "claimed vjp has shape (4,3) but X has shape (3,4)" in shape.output
    clash = cli_invoke("check", "X @ A", "--input", "X=3x4", "--constant", "A=4x2", "--vjp", "A", "--cotangent", "A")
    assert clash.exit_code == 2 and "cotangent 'A' is already a name" in clash.output


def test_new_writes_a_template_that_passes(cli_invoke: Callable[..., Result], tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    result = cli_invoke("new", "my_identity", "--folder", str(folder))
    assert result.exit_code == 0
    text = (folder / "my_identity.yaml").read_text()
    first = text.splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=") and "file://" not in first
    modeline = first.split("=", 1)[1]
    assert not modeline.startswith("/")  # no absolute path of this machine
    assert (folder / modeline).resolve().name == "identity.schema.json" and (folder / modeline).exists()
    assert cli_invoke("run", str(folder)).exit_code == 0
    assert cli_invoke("new", "my_identity", "--folder", str(folder)).exit_code == 2  # never overwrites
    assert cli_invoke("new", "Bad Name", "--folder", str(folder)).exit_code == 2


def test_help_does_not_import_the_numerics() -> None:
    code = "import sys, gradcheck.cli; print(sorted(m for m in ('numpy', 'yaml', 'rich', 'scipy') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]"


def test_a_command_leaves_its_objects_out_of_the_collectors_search_at_exit() -> None:
    # registered first, this handler runs last: after gradcheck's own
    code = ("import atexit, gc, os\n"
            "atexit.register(lambda: os.write(1, str(gc.get_freeze_count() > 0).encode()))\n"
            "from gradcheck.cli import main\n"
            "for _ in range(2):\n    try:\n        main(['--version'])\n    except SystemExit:\n        pass\n"
            "    print(atexit._ncallbacks())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    once, twice, frozen = [word for word in result.stdout.split() if word.isdigit() or word == "True"]
    assert once == twice and frozen == "True" and result.stderr == ""  # registered once for two commands


def test_docs_writes_the_page_and_checks_it_is_up_to_date(cli_invoke: Callable[..., Result],
                                                          write: Callable[..., Path], tmp_path: Path) -> None:
    write(RIGHT.format(name="right"), "topic/right.yaml")
    page = tmp_path / "out" / "page.md"
    written = cli_invoke("docs", str(tmp_path / "topic"), "--output", str(page))
    assert written.exit_code == 0 and f"wrote {page} (1 identities)" in written.output
    assert "right" in page.read_text()
    assert cli_invoke("docs", str(tmp_path / "topic"), "--output", str(page), "--check").exit_code == 0
    page.write_text("stale\n")
    stale = cli_invoke("docs", str(tmp_path / "topic"), "--output", str(page), "--check")
    assert stale.exit_code == 1 and "is out of date: run `gradcheck docs" in stale.output
    # with coverage tables beside the page: grouped by source, each with its table
    write(RIGHT.format(name="unnamed"), "topic/unnamed.yaml")
    (page.parent / "coverage.md").write_text(
        "# Coverage\n\n## A book (2020), chapter 1\n\n| source | item | identities | not expressible because |\n"
        "| --- | --- | --- | --- |\n| A book | eq. (1) | `right` |  |\n| A book | eq. (2) \\| x \\| |  | no norms |\n",
        encoding="utf-8")
    assert cli_invoke("docs", str(tmp_path / "topic"), "--output", str(page)).exit_code == 0
    text = page.read_text()
    assert "- [A book (2020), chapter 1](#a-book-2020-chapter-1): 1 identities; 1 of 2 items checked" in text
    assert "| A book | eq. (2) \\| x \\| |  | no norms |" in text
    assert text.index("## A book") < text.index("#### right") < text.index("## Other identities") < \
        text.index("#### unnamed")
    write("name: broken\n", "topic/broken.yaml")
    bad = cli_invoke("docs", str(tmp_path / "topic"), "--output", str(page))
    assert bad.exit_code == 1 and "cannot document a catalogue with bad files" in bad.output


def test_list_and_run_without_paths_use_the_local_catalogue_then_say_what_is_missing(
        cli_invoke: Callable[..., Result], write: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(RIGHT.format(name="local_one"), "identities/local_one.yaml")
    listed = cli_invoke("list")
    assert listed.exit_code == 0 and "local_one" in listed.output
    write("name: broken\n", "identities/broken.yaml")
    assert cli_invoke("list").exit_code == 1
    monkeypatch.setattr("gradcheck.catalogue.bundled_catalogue", lambda: None)
    monkeypatch.chdir(tmp_path / "identities")
    missing = cli_invoke("list")
    assert missing.exit_code == 2 and "no ./identities folder here and no installed catalogue" in missing.output


def test_the_table_can_be_written_to_a_file(cli_invoke: Callable[..., Result], write: Callable[..., Path],
                                            tmp_path: Path) -> None:
    path = write(WRONG.format(name="wrong"))
    out = tmp_path / "table.txt"
    assert cli_invoke("run", str(path), "--output", str(out)).exit_code == 1
    text = out.read_text()
    assert "1 passed, 1 failed, 0 errors" in text and "\x1b[" not in text  # plain text, no colour


def test_main_maps_every_way_out_to_its_exit_status(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import click

    from gradcheck import cli

    def raising(exc: BaseException) -> Callable[..., None]:
        def main(*args: object, **kwargs: object) -> None:
            raise exc
        return main

    cases: list[tuple[BaseException, int, str]] = [
        (click.exceptions.Abort(), 130, ""),
        (KeyboardInterrupt(), 130, "interrupted"),
        (RuntimeError("boom"), 3, "internal error (a bug); run again with --debug"),
    ]
    for exc, status, text in cases:
        monkeypatch.setattr(cli.cli, "main", raising(exc))
        with pytest.raises(SystemExit) as info:
            cli.main(["run"])
        assert info.value.code == status
        assert text in capsys.readouterr().err
    monkeypatch.setattr(cli.cli, "main", raising(RuntimeError("boom")))
    with pytest.raises(SystemExit):
        cli.main(["run", "--debug"])
    assert "RuntimeError: boom" in capsys.readouterr().err


def test_an_unknown_dim_is_a_usage_error(cli_invoke: Callable[..., Result]) -> None:
    typo = cli_invoke("run", str(CATALOGUE / "seed"), "--dim", "qq=5")
    assert typo.exit_code == 2 and "no identity has a dimension 'qq': did you mean 'q'?" in typo.output
    none = cli_invoke("check", "logdet(X)", "--input", "X=3x3:invertible", "--claim", "inv(X).T",
                      "--layout", "denominator", "--dim", "n=3")
    assert none.exit_code == 2 and "these identities have no dimensions" in none.output
    assert cli_invoke("run", str(CATALOGUE / "seed"), "--dim", "q=3").exit_code == 0


def test_chains_and_derivations_cross_to_worker_processes(cli_invoke: Callable[..., Result],
                                                          write: Callable[..., Path], tmp_path: Path) -> None:
    for name in ("a", "b"):
        write(f"""\
name: {name}
format: 3
inputs:
  X: {{shape: [3, 3], kind: invertible}}
function: logdet(X)
claims:
  - equals: [log(abs(det(X))), -logdet(inv(X))]
  - derivation: [trace(inv(X) @ dX), sum(inv(X).T * dX)]
  - derivation: [trace(inv(X) @ dX), sum(inv(X) * dX)]
""", f"{name}.yaml")
    result = cli_invoke("run", str(tmp_path), "--jobs", "2")
    assert result.exit_code == 1
    assert "4 passed, 2 failed, 0 errors" in result.output


def test_check_second_order_claims_and_a_derivation(cli_invoke: Callable[..., Result]) -> None:
    ok = cli_invoke("check", "logdet(X)", "--input", "X=3x3:invertible",
                    "--second-differential", "-trace(inv(X) @ dX @ inv(X) @ dX)",
                    "--hvp", "-(inv(X) @ V @ inv(X)).T",
                    "--step", "trace(inv(X) @ dX)", "--step", "sum(inv(X).T * dX)")
    assert ok.exit_code == 0, ok.output
    assert "second_differential PASS" in ok.output and "hvp wrt X (tangent V) PASS" in ok.output
    assert "derivation (2 steps) PASS" in ok.output
    wrong = cli_invoke("check", "logdet(X)", "--input", "X=3x3:invertible",
                       "--step", "trace(inv(X) @ dX)", "--step", "sum(inv(X) * dX)")
    assert wrong.exit_code == 1
    assert "diagnosis: step 2: trace(inv(X) @ dX) = sum(inv(X) * dX) does not hold" in " ".join(wrong.output.split())


def test_run_quiet_and_only_problems(cli_invoke: Callable[..., Result], write: Callable[..., Path]) -> None:
    folder = write("name: right\ninputs:\n  x: {shape: [3]}\nfunction: sum(x * x)\nclaims:\n"
                   "  - {wrt: x, layout: denominator, derivative: 2 * x}\n", "cat/right.yaml").parent
    write("name: wrong\ninputs:\n  x: {shape: [3]}\nfunction: sum(x * x)\nclaims:\n"
          "  - {wrt: x, layout: denominator, derivative: x}\n", "cat/wrong.yaml")
    quiet = cli_invoke("run", str(folder), "-q")
    assert quiet.exit_code == 1 and "identity" not in quiet.output and "right" not in quiet.output
    assert quiet.output.startswith("FAIL wrong: derivative wrt x (denominator): off by a factor")
    assert quiet.output.splitlines()[-1].startswith("1 passed, 1 failed, 0 errors in ")
    some = cli_invoke("run", str(folder), "--only-problems")
    assert some.exit_code == 1 and "identity" in some.output and " right " not in some.output
    assert "wrong" in some.output.split("FAIL wrong:")[0]


@pytest.mark.parametrize("command", [[], ["run"], ["verify"], ["list"], ["lint"], ["docs"], ["check"], ["new"]])
def test_help_is_whole_within_80_columns(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"], terminal_width=80)
    assert result.exit_code == 0
    assert max(len(line) for line in result.output.splitlines()) <= 80, result.output
    assert "..." not in result.output.replace("[ARGS]...", "").replace("PATHS...", "").replace("[PATHS]...", "")
    assert command == [] or "Example" in result.output


def test_check_header_shows_no_empty_sizes(cli_invoke: Callable[..., Result]) -> None:
    result = cli_invoke("check", "logdet(X)", "--input", "X=3x3:invertible", "--claim", "inv(X).T",
                        "--layout", "denominator")
    assert "  run: seed 0, 3 trials, rtol 1e-11, method complex" in result.output and "run: -" not in result.output


def test_in_a_pipe_every_claim_is_one_whole_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    gradcheck = str(Path(sys.executable).with_name("gradcheck"))
    proc = subprocess.run([gradcheck, "run", "identities/seed", "--format", "plain"], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "80"})
    piped = subprocess.run([gradcheck, "run", "identities/seed"], capture_output=True, text=True, timeout=300)
    assert proc.stdout == piped.stdout.replace(piped.stdout.splitlines()[-1], proc.stdout.splitlines()[-1])
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["identity", "claim", "sizes", "error", "status"]
    rows = lines[1:-1]
    assert len(rows) == 101  # one per claim of the seed, none wrapped
    assert all(line == line.rstrip() for line in lines)
    names = {f.stem for f in Path("identities/seed").glob("*.yaml")}
    assert {line.split()[0] for line in rows} == names
    assert all(line.split()[-1] in ("PASS", "XFAIL") for line in rows)


def test_the_plain_table_written_in_pieces_is_the_table_in_one(
        cli_invoke: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gradcheck import cli as cli_module

    monkeypatch.setattr(cli_module, "PLAIN_CHUNK", 7)  # 101 rows: 15 pieces, the last one short
    written = tmp_path / "table.txt"
    cli_invoke("run", "identities/seed", "--format", "plain", "--output", str(written))
    printed = cli_invoke("run", "identities/seed", "--format", "plain").output
    whole = written.read_text()
    assert len(printed.splitlines()) == len(whole.splitlines()) > 101
    assert printed.splitlines()[:-1] == whole.splitlines()[:-1]  # all but the totals' time


def test_k_selects_the_same_claims_as_pytest_k(cli_invoke: Callable[..., Result]) -> None:
    import json
    import subprocess
    import sys

    for text in ("det", "LAYOUT", "derivation_xtx", "product_rule.yaml"):
        ran = json.loads(cli_invoke("run", "identities/seed", "-k", text, "--format", "json").output)["results"]
        collected = subprocess.run([sys.executable, "-m", "pytest", "identities/seed", "-k", text, "--collect-only",
                                    "-q", "-p", "no:cacheprovider"], capture_output=True, text=True, timeout=120)
        count = int(collected.stdout.strip().splitlines()[-1].split("/")[0].split()[0])
        assert len(ran) == count > 0, text


def test_list_never_cuts_a_name_so_any_can_be_copied_into_verify(cli_invoke: Callable[..., Result]) -> None:
    listed = cli_invoke("list", "identities").output.splitlines()
    names = [line.split()[0] for line in listed]
    from gradcheck.catalogue import load_catalogue

    assert sorted(names) == sorted(i.name for i in load_catalogue(["identities"]).identities)
    longest = max(names, key=len)
    result = cli_invoke("verify", longest, "--catalogue", "identities", "--trials", "1")
    assert result.exit_code == 0 and longest in result.output


@pytest.mark.parametrize(("words", "cword", "expected"), [
    ("gradcheck ver", 1, {"verify"}),
    ("gradcheck run --for", 2, {"--format"}),
    ("gradcheck verify derivation_t", 2, {"derivation_trace_axb", "derivation_two_layer_w1", "derivation_two_layer_w2"}),
    ("gradcheck verify --catalogue identities/seed lo", 4, {"logdet", "loss_softmax_cross_entropy",
                                                             "loss_squared_error"}),
])
def test_shell_completion(words: str, cword: int, expected: set[str]) -> None:
    gradcheck = str(Path(sys.executable).with_name("gradcheck"))
    env = {**os.environ, "_GRADCHECK_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    proc = subprocess.run([gradcheck], capture_output=True, text=True, env=env, timeout=60)
    assert {line.split(",", 1)[1] for line in proc.stdout.splitlines()} == expected


@pytest.mark.parametrize("name", ["product_rule", "product_rule.yaml", "identities/seed/product_rule.yaml"])
def test_verify_finds_an_identity_by_its_name_its_file_name_or_its_path(cli_invoke: Callable[..., Result],
                                                                         name: str) -> None:
    result = cli_invoke("verify", name, "--trials", "1")
    assert result.exit_code == 0 and result.output.startswith("product_rule: ")


@pytest.mark.parametrize(("args", "message"), [
    (["inv(X", "--input", "X=3x3", "--differential", "0"],
     "invalid syntax at column 4 in 'inv(X' ('(' was never closed) in FUNCTION"),
    (["trace(X)", "--input", "X=3x3", "--differential", "trace(dX"],
     "invalid syntax at column 6 in 'trace(dX' ('(' was never closed) in --differential"),
    (["trace(X)", "--input", "X=3x3", "--step", "trace(dX)", "--step", "trace(dY)"], "in --step number 2"),
    (["trace(X)", "--input", "X=3x3:spdd", "--differential", "trace(dX)"],
     "unknown kind 'spdd' in --input X: did you mean 'spd'?"),
    (["trace(X)", "--input", "X=3x3", "--claim", "X"], "a derivative claim needs 'layout'"),
])
def test_check_errors_point_at_what_the_user_typed(args: list[str], message: str) -> None:
    bad = gradcheck("check", *args)
    assert bad.returncode == 2 and message in bad.stderr and "<command line>" not in bad.stderr, bad.stderr


def test_verify_in_a_pipe_pads_no_line() -> None:
    proc = gradcheck("verify", "logdet", "--trials", "1")
    assert proc.returncode == 0
    assert all(line == line.rstrip() for line in proc.stdout.splitlines())
