"""Hostile and broken catalogues: nothing runs, nothing crashes, nothing is lost."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from gradcheck.catalogue import load_text
from gradcheck.checker import Options, check_identity
from gradcheck.errors import CatalogueError
from gradcheck.verdict import Status

GRADCHECK = str(Path(sys.executable).with_name("gradcheck"))

TEMPLATE = """\
name: {name}
dims: {{n: 3}}
inputs:
  X: {{shape: [n, n], kind: invertible}}
function: {function}
claims:
  - differential: {claim}
"""

ATTACKS = {
    "import": "__import__('os').system('touch {sentinel}')",
    "open": "open('{sentinel}', 'w')",
    "getattr": "getattr(X, '__class__')",
    "dunder": "X.__class__.__mro__",
    "lambda": "(lambda: __import__('os'))()",
    "comprehension": "[c for c in ().__class__.__base__.__subclasses__()]",
    "fstring": "f'{{X}}'",
    "starred": "sum(*X)",
    "keyword": "sum(X, **{{'axis': 0}})",
    "walrus": "(y := X)",
    "subscript": "X[0]",
    "call_attribute": "X.T.__getattribute__('T')",
    "string": "'touch {sentinel}'",
}


def hostile_catalogue(folder: Path, sentinel: Path) -> None:
    for name, attack in ATTACKS.items():
        text = TEMPLATE.format(name=name, function=f'"{attack.format(sentinel=sentinel)}"', claim="trace(dX)")
        (folder / f"{name}.yaml").write_text(text)
    (folder / "yaml_tag.yaml").write_text(f"!!python/object/apply:os.system ['touch {sentinel}']\n")
    (folder / "yaml_tag_nested.yaml").write_text(
        TEMPLATE.format(name="tag", function=f"!!python/object/apply:os.system ['touch {sentinel}']",
                        claim="trace(dX)"))
    (folder / "good.yaml").write_text(TEMPLATE.format(name="good", function="logdet(X)",
                                                      claim="trace(inv(X) @ dX)"))


def test_no_code_runs_from_a_file(tmp_path: Path) -> None:
    sentinel = tmp_path / "sentinel"
    catalogue = tmp_path / "catalogue"
    catalogue.mkdir()
    hostile_catalogue(catalogue, sentinel)
    result = subprocess.run([GRADCHECK, "run", str(catalogue)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "250"})
    assert not sentinel.exists()
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "1 passed, 0 failed, 15 errors" in result.stdout
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR ")]
    assert len(errors) == 15
    assert all(len(line) < 300 for line in errors)  # one line each
    assert any("YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed" in e for e in errors)


@pytest.mark.parametrize(("expression", "message"), [
    ("(" * 100_000 + "X" + ")" * 100_000, "over the limit of 10,000"),
    ("-" * 5_000 + "X", "too deeply nested"),
    ("eye(10**9)", "eye would have shape (1000000000,1000000000)"),
    ("kron(kron(kron(X, X), kron(X, X)), kron(X, X))", "kron would have shape"),
    ("sum(where(ones(25000, 1), ones(1, 25000), 0))", "where would have shape (25000,25000)"),
    ("sum(ones(40000, 1) < ones(1, 40000))", "comparison would have shape (40000,40000)"),
])
def test_resource_limits_on_expressions(expression: str, message: str) -> None:
    text = TEMPLATE.format(name="bomb", function=f'"{expression}"', claim="0").replace("n: 3", "n: 30")
    try:
        identity = load_text(text, "bomb.yaml")
    except CatalogueError as exc:
        assert message in str(exc)
        return
    [result] = check_identity(identity, Options(trials=1))
    assert result.status is Status.ERROR and message in result.message


def test_huge_power_is_a_nonfinite_error_not_a_hang() -> None:
    identity = load_text(TEMPLATE.format(name="power", function="sum(X ** 10**10)", claim="0"), "p.yaml")
    start = time.perf_counter()
    [result] = check_identity(identity, Options(trials=1))
    assert time.perf_counter() - start < 5
    assert result.status is Status.ERROR and "is infinite" in result.message


def test_alias_bomb_and_huge_file(tmp_path: Path, cli_invoke: Callable[..., Result]) -> None:
    bomb = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    bomb += [f"{c}: &{c} [" + ", ".join([f"*{p}"] * 10) + "]" for p, c in zip("abcdefgh", "bcdefghi")]
    (tmp_path / "bomb.yaml").write_text("\n".join(bomb))
    with open(tmp_path / "huge.yaml", "wb") as handle:
        handle.seek(50 * 2**20)
        handle.write(b"\n")
    result = cli_invoke("run", str(tmp_path))
    assert result.exit_code == 1
    assert "document has more than 100,000 nodes (alias expansion?)" in result.output
    assert "file is 52,428,801 bytes, over the limit of 1,000,000" in result.output
    raised = cli_invoke("run", str(tmp_path / "huge.yaml"), "--max-file-size", "60000000")
    assert "over the limit" not in raised.output


def test_huge_sizes(cli_invoke: Callable[..., Result], write: Callable[..., Path]) -> None:
    path = write(TEMPLATE.format(name="big", function="logdet(X)", claim="trace(inv(X) @ dX)"))
    assert cli_invoke("run", str(path), "--size", "100000").exit_code == 2
    result = cli_invoke("run", str(path), "--size", "10000", "--max-elements", "1000000")
    assert result.exit_code == 1
    assert "X would have shape (10000,10000) (100,000,000 entries), over the limit of 1,000,000" in result.output


@pytest.mark.parametrize(("function", "claim", "message"), [
    ("logdet(X - X)", "trace(dX)", "'logdet(X - X)' is infinite in function"),
    ("sum(exp(1000 * X))", "sum(exp(1000 * X) * 1000 * dX)", "is infinite in function"),
    ("logdet(X)", "trace(inv(X - X) @ dX)", "inv: singular matrix in 'inv(X - X)' in claim 1"),
    ("logdet(X)", "trace(inv(X) @ dX) * log(-1)", "'log(-1)' is NaN in claim 1"),
])
def test_numerical_faults_are_verdicts(function: str, claim: str, message: str) -> None:
    identity = load_text(TEMPLATE.format(name="fault", function=function, claim=claim), "f.yaml")
    [result] = check_identity(identity, Options(trials=1))
    assert result.status is Status.ERROR
    assert message in result.message


def test_timeout_stops_an_identity_and_the_run_goes_on(tmp_path: Path, cli_invoke: Callable[..., Result]) -> None:
    (tmp_path / "a_slow.yaml").write_text(
        TEMPLATE.format(name="slow", function="logdet(X)", claim="trace(inv(X) @ dX)").replace("n: 3", "n: 400"))
    # 1-by-1: its 100 trials take a fraction of the timeout even on a loaded machine
    (tmp_path / "b_fast.yaml").write_text(TEMPLATE.format(name="fast", function="logdet(X)",
                                                          claim="trace(inv(X) @ dX)").replace("n: 3", "n: 1"))
    result = cli_invoke("run", str(tmp_path), "--timeout", "1.5", "--trials", "100", "-j", "1")
    assert result.exit_code == 1
    assert "stopped after 1.5 s (--timeout)" in result.output
    assert "1 passed, 0 failed, 1 errors" in result.output


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_reports_what_finished_and_exits_130(tmp_path: Path, jobs: str) -> None:
    # far more work than the 3 s before the signal on any machine (6 files of 400 trials took
    # 3.6 s with -j 2, so that the run sometimes finished first)
    for i in range(12):
        (tmp_path / f"s{i}.yaml").write_text(
            TEMPLATE.format(name=f"s{i}", function="logdet(X)", claim="trace(inv(X) @ dX)").replace("n: 3", "n: 60"))
    # Ctrl-C as a terminal delivers it: a process started in the background of a shell
    # without job control inherits SIGINT ignored, and would rightly go on ignoring it
    proc = subprocess.Popen([GRADCHECK, "run", str(tmp_path), "--trials", "1000", "-j", jobs],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted:" in out and "identities were checked" in out
    assert "Traceback" not in err


def test_results_do_not_depend_on_file_order_filter_or_jobs(tmp_path: Path, cli_invoke: Callable[..., Result]) -> None:
    for name in ("zeta", "alpha", "mid"):
        (tmp_path / f"{name}.yaml").write_text(
            TEMPLATE.format(name=name, function="logdet(X)", claim="trace(inv(X) @ dX)"))

    def errors(*args: str) -> dict[str, str]:
        out = cli_invoke("run", str(tmp_path), "--format", "json", *args).output
        import json
        return {r["identity"]: r["error"] for r in json.loads(out)["results"]}

    every = errors("-j", "1")
    assert errors("-j", "2") == every
    assert errors("-k", "mid") == {"mid": every["mid"]}
    assert len(set(every.values())) == 3


def test_one_line_errors_for_malformed_input(tmp_path: Path, cli_invoke: Callable[..., Result]) -> None:
    cases = {
        "tab.yaml": "name: x\n\tinputs: 1\n",
        "list.yaml": "- 1\n- 2\n",
        "binary.yaml": "\x00\x01",
        "deep.yaml": "a: " + "[" * 60 + "]" * 60,
        "types.yaml": "name: 3\ninputs: {}\nfunction: 1\nclaims: []\n",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    result = cli_invoke("run", str(tmp_path))
    assert result.exit_code == 1
    assert f"0 passed, 0 failed, {len(cases)} errors" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_limits_hold_in_workers_whatever_the_start_method(tmp_path: Path, start_method: str) -> None:
    # A worker started by spawn or forkserver imports gradcheck afresh: the parent's
    # --max-elements must reach it all the same.
    for i in range(2):
        (tmp_path / f"big{i}.yaml").write_text(
            TEMPLATE.format(name=f"big{i}", function="logdet(X)", claim="trace(inv(X) @ dX)").replace("n: 3", "n: 40"))
    code = ("import multiprocessing, sys\n"
            f"multiprocessing.set_start_method({start_method!r})\n"
            "from gradcheck.cli import main\n"
            "main(sys.argv[1:])\n")
    proc = subprocess.run([sys.executable, "-c", code, "run", str(tmp_path), "--max-elements", "100", "-j", "2"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert " ".join(proc.stdout.split()).count("over the limit of 100 ") == 2, proc.stdout
    assert "0 passed, 0 failed, 2 errors" in proc.stdout


def test_sigterm_stops_the_workers_and_reports_what_finished(tmp_path: Path) -> None:
    for i in range(12):
        (tmp_path / f"s{i}.yaml").write_text(
            TEMPLATE.format(name=f"s{i}", function="logdet(X)", claim="trace(inv(X) @ dX)").replace("n: 3", "n: 60"))
    proc = subprocess.Popen([GRADCHECK, "run", str(tmp_path), "--trials", "1000", "-j", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    workers = _children_of(proc.pid)
    assert workers
    proc.terminate()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted:" in out and "Traceback" not in err and "BrokenPipe" not in err
    time.sleep(0.5)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def _children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.parametrize(("function", "claim", "status"), [
    ("X > 0", "0 * dX", "PASS"),  # booleans are 0 and 1
    ("2**64 * 2**64 + trace(X)", "trace(dX)", "PASS"),  # an integer beyond int64 is a float
    ("trace(X)", "2**64 * 2**64 * trace(dX)", "FAIL"),
])
def test_values_of_any_number_type_are_judged(tmp_path: Path, cli_invoke: Callable[..., Result],
                                              function: str, claim: str, status: str) -> None:
    (tmp_path / "a.yaml").write_text(TEMPLATE.format(name="a", function=function, claim=claim))
    (tmp_path / "b.yaml").write_text(TEMPLATE.format(name="b", function="trace(X)", claim="trace(dX)"))
    result = cli_invoke("run", str(tmp_path), "--format", "json")
    import json
    rows = {r["identity"]: r["status"] for r in json.loads(result.output)["results"]}
    assert rows == {"a": status, "b": "PASS"}


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_bug_or_a_dead_worker_is_one_identitys_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       jobs: int) -> None:
    from gradcheck import checker
    from gradcheck.catalogue import discover, load_catalogue

    for name in ("a_bug", "b_killed", "c_fine"):
        (tmp_path / f"{name}.yaml").write_text(TEMPLATE.format(name=name, function="trace(X)", claim="trace(dX)"))
    real = checker.check_identity

    def broken(identity: object, options: Options) -> object:
        name = getattr(identity, "name", "")
        if name == "a_bug":
            raise TypeError("a bug")
        if name == "b_killed":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(identity, options)  # type: ignore[arg-type]

    monkeypatch.setattr(checker, "check_identity", broken)  # the workers are forked: they see it
    loaded_first = [r for batch in checker.check_catalogue(load_catalogue([str(tmp_path)]), Options(), jobs=jobs,
                                                           supervise=True) for r in batch]
    found = discover([str(tmp_path)])  # as `gradcheck run` does it: the files loaded in the workers too
    loaded_there = checker.collected(found, checker.check_files(found, Options(), jobs=jobs)).results
    for rows in (loaded_first, loaded_there):
        assert [(r.identity, r.status) for r in rows] == [("a_bug", Status.ERROR), ("b_killed", Status.ERROR),
                                                          ("c_fine", Status.PASS)]
        assert rows[0].message.startswith("internal error (a bug) while checking it: TypeError: a bug")
        assert rows[1].message == "the process checking it died: killed by signal 9 (SIGKILL; out of memory?)"


def test_control_characters_from_files_are_shown_never_acted_on(tmp_path: Path) -> None:
    good = "name: red\ninputs:\n  x: {shape: [3, 1]}\nfunction: sum(x)\nclaims:\n  - differential: sum(dx)\n"
    (tmp_path / "a\x1b[31mred.yaml").write_text(good.replace("sum(dx)\n", 'sum(dx)\n    label: "a\\nFAKE\\x1b[2J\\r"\n'))
    (tmp_path / "b.yaml").write_text(good.replace("red", "bad").replace("sum(dx)\n", '"sum(dx) \\x1b[2J\\nPASS"\n'))
    (tmp_path / "c.yaml").write_text(good.replace("red", "c").replace("sum(dx)\n", '2 * sum(dx)\n    label: "\\u202eexe"\n'))
    (tmp_path / "d\x1b[2J.yaml").write_text("name: [")
    (tmp_path / "e.yaml").write_text('name: "evil\\n"\n' + good.split("\n", 1)[1])
    outputs = {}
    for fmt in ("table", "markdown", "junit", "html", "json"):
        proc = subprocess.run([GRADCHECK, "run", str(tmp_path), "--format", fmt], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 1, proc.stderr
        outputs[fmt] = proc.stdout
    lint = subprocess.run([GRADCHECK, "lint", str(tmp_path)], capture_output=True, text=True, timeout=60)
    outputs["lint"] = lint.stdout + lint.stderr
    for fmt, text in outputs.items():
        assert not any(ch in text for ch in "\x1b\r\u202e"), fmt
    assert "FAKE" not in "".join(line for line in outputs["table"].splitlines() if not line.strip().startswith("red"))
    import xml.dom.minidom
    xml.dom.minidom.parseString(outputs["junit"])
    assert "may use only a-z" in outputs["table"]  # a name with a newline in it is refused


@pytest.mark.parametrize("args", [["--timeout", "inf"], ["--timeout", "nan"], ["--timeout", "1e308"],
                                  ["--seed", "-1"], ["--rtol", "nan"], ["--max-noise", "nan"]])
def test_option_values_that_are_not_numbers_in_range_are_usage_errors(
        tmp_path: Path, cli_invoke: Callable[..., Result], args: list[str]) -> None:
    (tmp_path / "a.yaml").write_text(TEMPLATE.format(name="a", function="trace(X)", claim="trace(dX)"))
    result = cli_invoke("run", str(tmp_path), *args)
    assert result.exit_code == 2 and "Invalid value" in result.output


@pytest.mark.parametrize(("key", "text"), [
    ("name", 'name: "evil\\n"\n'), ("inputs", 'name: a\ninputs: {"X\\n": {shape: [3, 3]}}\n'),
    ("dims", 'name: a\ndims: {"n\\n": 3}\n'),
])
def test_a_name_with_a_trailing_newline_is_refused(key: str, text: str) -> None:
    body = "inputs:\n  X: {shape: [3, 3]}\n" if key != "inputs" else ""
    with pytest.raises(CatalogueError, match="name|identifier|valid"):
        load_text(text + body + "function: trace(X)\nclaims:\n  - differential: trace(dX)\n", "a.yaml")


def test_only_regular_files_inside_the_folder_are_read(tmp_path: Path) -> None:
    folder, outside = tmp_path / "cat", tmp_path / "outside"
    (folder / "sub.yaml").mkdir(parents=True)  # a folder named like a file is searched as a folder
    outside.mkdir()
    (outside / "secrets.yaml").write_text("SECRET_TOKEN: abc\n")
    (folder / "sub.yaml" / "inner.yaml").write_text(TEMPLATE.format(name="inner", function="trace(X)",
                                                                    claim="trace(dX)"))
    (folder / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(folder / "fifo.yaml")
    (folder / "loop.yaml").symlink_to("loop.yaml")
    (folder / "broken.yaml").symlink_to("nothing.yaml")
    (folder / "leak.yaml").symlink_to(outside / "secrets.yaml")
    start = time.monotonic()
    proc = subprocess.run([GRADCHECK, "run", str(folder), "-q"], capture_output=True, text=True, timeout=60)
    assert time.monotonic() - start < 30
    out = " ".join(proc.stdout.split())
    assert "1 passed, 0 failed, 5 errors" in out, out
    for why in ("a broken symbolic link", "a symbolic link in a loop", "zero.yaml",
                f"a symbolic link out of {folder.resolve()}: not followed", "not a regular file (a FIFO)"):
        assert why in out
    assert "SECRET_TOKEN" not in out
    # named on the command line (as a shell's glob names them), a device or a FIFO is refused, not read
    named = subprocess.run([GRADCHECK, "run", str(folder / "zero.yaml"), str(folder / "fifo.yaml")],
                           capture_output=True, text=True, timeout=60)
    out = " ".join(named.stdout.split())
    assert "not a regular file (a character device)" in out and "not a regular file (a FIFO)" in out
    followed = subprocess.run([GRADCHECK, "lint", str(folder), "--follow-links"], capture_output=True, text=True,
                              timeout=60)
    assert "unknown key 'SECRET_TOKEN'" in followed.stdout  # asked for: the link is followed


def test_verify_and_check_stop_at_the_timeout_too(tmp_path: Path) -> None:
    # one native call (logm of 1500 x 1500) that no alarm interrupts: the worker is killed
    (tmp_path / "slow.yaml").write_text(TEMPLATE.format(name="slow", function="trace(logm(X @ X.T))",
                                                        claim="trace(dX)").replace("n: 3", "n: 1500"))
    for args in (["verify", "slow", "--catalogue", str(tmp_path)],
                 ["check", "trace(logm(X @ X.T))", "--input", "X=1500x1500", "--differential", "trace(dX)"]):
        start = time.monotonic()
        proc = subprocess.run([GRADCHECK, *args, "--timeout", "0.5", "--trials", "1"], capture_output=True,
                              text=True, timeout=120)
        assert time.monotonic() - start < 30
        assert proc.returncode == 1 and "stopped after 0.5 s (--timeout)" in " ".join(proc.stdout.split()), \
            proc.stdout + proc.stderr


def test_total_memory_is_bounded_not_only_each_array(tmp_path: Path) -> None:
    # 25 lets of 5000 x 5000: each within the element limit, 5 GB together
    lets = "".join(f"  L{i}: ones(n, n) * {i}\n" for i in range(25))
    (tmp_path / "hog.yaml").write_text(
        "format: 2\nname: hog\ndims: {n: 5000}\ninputs:\n  x: {shape: [3, 1]}\nlet:\n" + lets
        + "function: sum(x) + " + " + ".join(f"L{i}[0, 0]" for i in range(25)) + "\nclaims:\n  - differential: sum(dx)\n")
    (tmp_path / "ok.yaml").write_text(TEMPLATE.format(name="ok", function="trace(X)", claim="trace(dX)"))
    import resource
    proc = subprocess.run([GRADCHECK, "run", str(tmp_path), "--max-memory", "1024"], capture_output=True, text=True,
                          timeout=120)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = " ".join(proc.stdout.split())
    assert "1 passed, 0 failed, 1 errors" in out and "out of memory" in out and "--max-memory" in out
    assert peak_kb < 1.5 * 1024 * 1024  # no process of the run went far past its budget


def test_a_file_of_long_latex_is_refused_before_it_costs_minutes(tmp_path: Path) -> None:
    tex = " + ".join([r"\mathrm{tr}(X^{-1} X^\top X)"] * 60)
    lets = "".join(f"  L{i}: {{tex: '{tex}'}}\n" for i in range(400))
    text = ("format: 4\nname: heavy\ndims: {n: 3}\ninputs:\n  X: {shape: [n, n], kind: invertible}\nlet:\n" + lets
            + "function: trace(X)\nclaims:\n  - differential: trace(dX)\n")
    start = time.monotonic()
    # the budget of characters refuses it (in about 3 s); on a machine loaded enough to
    # make that 20 s, the budget of time does: either way, long before minutes
    with pytest.raises(CatalogueError, match="the file's LaTeX is over 20,000 characters in let L"
                                             "|reading the file's expressions took over 20 s in let L"):
        load_text(text, "heavy.yaml")
    assert time.monotonic() - start < 30


def test_a_hostile_folder_runs_to_completion_everywhere(tmp_path: Path) -> None:
    import resource

    folder = tmp_path / "hostile"
    folder.mkdir()
    cases = {
        "where": ("sum(where(ones(25000, 1), ones(1, 25000), 0)) + trace(X)", "trace(dX)"),
        "compare": ("sum(ones(40000, 1) < ones(1, 40000)) + trace(X)", "trace(dX)"),
        "boolean": ("X > 0", "0 * dX"),
        "huge_int": ("2**64 * 2**64 + trace(X)", "trace(dX)"),
        "slow": ("trace(logm(X @ X.T))", "trace(dX)"),
        "fine": ("trace(X)", "trace(dX)"),
    }
    for name, (function, claim) in cases.items():
        text = TEMPLATE.format(name=name, function=f'"{function}"', claim=claim)
        (folder / f"{name}.yaml").write_text(text.replace("n: 3", "n: 1500") if name == "slow" else text)
    (folder / "esc\x1b[2J.yaml").write_text(TEMPLATE.format(name="esc", function="trace(X)", claim="trace(dX)")
                                           .replace("trace(dX)\n", 'trace(dX)\n    label: "a\\nFAKE\\x1b[2J"\n'))
    (folder / "newline.yaml").write_text(TEMPLATE.format(name='"evil\\n"', function="trace(X)", claim="trace(dX)"))
    lets = "".join(f"  L{i}: ones(n, n) * {i}\n" for i in range(25))
    (folder / "hog.yaml").write_text("format: 2\nname: hog\ndims: {n: 5000}\ninputs:\n  x: {shape: [3, 1]}\nlet:\n"
                                     + lets + "function: sum(x) + L24[0, 0]\nclaims:\n  - differential: sum(dx)\n")
    tex = " + ".join([r"\mathrm{tr}(X^{-1} X^\top X)"] * 60)
    (folder / "latex.yaml").write_text(
        "format: 4\nname: latex\ndims: {n: 3}\ninputs:\n  X: {shape: [n, n]}\nlet:\n"
        + "".join(f"  L{i}: {{tex: '{tex}'}}\n" for i in range(40)) + "function: trace(X)\nclaims:\n"
        "  - differential: trace(dX)\n")
    (folder / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(folder / "fifo.yaml")
    (folder / "loop.yaml").symlink_to("loop.yaml")
    (tmp_path / "secret.yaml").write_text("SECRET: 1\n")
    (folder / "leak.yaml").symlink_to(tmp_path / "secret.yaml")
    (folder / "broken.yaml").write_text("name: [")
    files = 15
    limits = ["--timeout", "2", "--max-memory", "1500"]
    start = time.monotonic()
    runs = {
        "run": [GRADCHECK, "run", str(folder), "-j", "2", *limits],
        "lint": [GRADCHECK, "lint", str(folder)],
        "pytest": [sys.executable, "-m", "pytest", str(folder), "-q", "-p", "no:cacheprovider",
                   "--gradcheck-timeout", "2"],
    }
    for what, command in runs.items():
        proc = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert proc.returncode == 1, (what, proc.stdout[-2000:], proc.stderr[-2000:])
        assert "Traceback" not in proc.stdout + proc.stderr, (what, proc.stdout[-3000:])
        assert "\x1b" not in proc.stdout + proc.stderr and "SECRET" not in proc.stdout, what
        if what == "run":
            rows = [line for line in proc.stdout.splitlines()[1:] if line.split()[-1:] in (["PASS"], ["ERROR"])]
            assert len(rows) == files, proc.stdout
        if what == "lint":
            assert f"{files} files read" in proc.stdout, proc.stdout
    assert time.monotonic() - start < 240
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 2 * 1024 * 1024  # KB: under 2 GB


def test_jobs_are_capped_by_the_cores_available(tmp_path: Path) -> None:
    for i in range(4):
        (tmp_path / f"t{i}.yaml").write_text(TEMPLATE.format(name=f"t{i}", function="trace(X)", claim="trace(dX)"))
    # one core allowed: 256 jobs become one worker, not 256 processes on it
    code = ("import os, sys\nos.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
            "from gradcheck.cli import main\nmain(sys.argv[1:])\n")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code, "run", str(tmp_path), "-j", "256"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "4 passed" in proc.stdout
    assert time.monotonic() - start < 30
