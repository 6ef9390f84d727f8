"""Reports and pages written safely: atomic, regular files only, the right mode, one-line errors."""
from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from gradcheck.report import output
from gradcheck.report.output import OutputError, write_atomic

GRADCHECK = str(Path(sys.executable).with_name("gradcheck"))


def test_a_new_file_gets_the_umasks_mode_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640
    (tmp_path / "old.json").write_text("old")
    (tmp_path / "old.json").chmod(0o604)
    write_atomic(tmp_path / "old.json", "new")
    assert (tmp_path / "old.json").read_text() == "new"
    assert stat.S_IMODE((tmp_path / "old.json").stat().st_mode) == 0o604


@pytest.mark.parametrize("kind", ["symlink", "device", "folder", "fifo"])
def test_only_a_regular_file_is_replaced(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "report.json"
    if kind == "symlink":
        (tmp_path / "real.json").write_text("keep")
        target.symlink_to(tmp_path / "real.json")
    elif kind == "folder":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target = Path("/dev/null")
    with pytest.raises(OutputError, match=f"cannot write {target}: it is"):
        write_atomic(target, "x")
    if kind == "symlink":
        assert (tmp_path / "real.json").read_text() == "keep" and target.is_symlink()
    assert Path("/dev/null").is_char_device()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "report.json").write_text("old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output.os, "fsync", full)
    with pytest.raises(OutputError, match="cannot write .*report.json: No space left on device"):
        write_atomic(tmp_path / "report.json", "new")
    assert (tmp_path / "report.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


IDENTITY = """\
name: trace
inputs:
  X: {shape: [3, 3]}
function: trace(X)
claims:
  - differential: trace(dX)
"""


def test_run_prints_the_table_then_the_error_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "trace.yaml").write_text(IDENTITY)
    (tmp_path / "a_file").write_text("")
    for target in (tmp_path / "a_file" / "report.json", Path("/dev/null")):
        proc = subprocess.run([GRADCHECK, "run", str(tmp_path / "trace.yaml"), "--format", "json", "-o", str(target)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2
        assert "1 passed, 0 failed" in proc.stdout  # the results are on screen all the same
        assert proc.stderr.startswith(f"gradcheck: error: cannot write {target}") and proc.stderr.count("\n") == 1


def test_docs_output_is_atomic_and_refuses_what_is_not_a_file(tmp_path: Path, cli_invoke: Callable[..., Result],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "trace.yaml").write_text(IDENTITY)
    page = tmp_path / "page.md"
    page.write_text("old page")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output.os, "fsync", full)
    result = cli_invoke("docs", str(tmp_path / "cat"), "--output", str(page))
    assert result.exit_code == 2 and "No space left on device" in result.output
    assert page.read_text() == "old page"
    monkeypatch.undo()
    assert cli_invoke("docs", str(tmp_path / "cat"), "--output", str(page)).exit_code == 0
    assert page.read_text().startswith("#")


def test_a_closed_stdout_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "trace.yaml").write_text(IDENTITY)
    proc = subprocess.run(f"{GRADCHECK} run {tmp_path} --format json >&-", shell=True, capture_output=False,
                          stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 2 and "standard output is closed" in proc.stderr


def test_chunks_are_written_in_pieces_and_a_chunk_that_fails_keeps_the_old_file(tmp_path: Path) -> None:
    from gradcheck.report.output import pieces

    chunks = [f"row {i}\n" for i in range(100)]
    joined = list(pieces(chunks, 50))
    assert "".join(joined) == "".join(chunks) and all(len(p) >= 50 for p in joined[:-1]) and len(joined) > 5
    assert list(pieces([], 50)) == []
    write_atomic(tmp_path / "report.txt", iter(chunks))
    assert (tmp_path / "report.txt").read_text() == "".join(chunks)

    def failing() -> Iterator[str]:
        yield "half a report"
        raise RuntimeError("a bug while making the report")

    with pytest.raises(RuntimeError):
        write_atomic(tmp_path / "report.txt", failing())
    assert (tmp_path / "report.txt").read_text() == "".join(chunks)
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]
