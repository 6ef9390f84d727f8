"""Writing reports and pages to files safely."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from gradcheck.errors import GradcheckError


class OutputError(GradcheckError):
    """A report or page that cannot be written where it was asked for (the path, the reason)."""


PIECE = 1 << 16  # characters written at a time where a report comes in chunks


def pieces(chunks: Iterable[str], size: int = PIECE) -> Iterator[str]:
    """`chunks` (a report's rows, as it makes them) joined into pieces of about `size`
    characters: one write each, however small the rows."""
    held: list[str] = []
    length = 0
    for chunk in chunks:
        held.append(chunk)
        length += len(chunk)
        if length >= size:
            yield "".join(held)
            held, length = [], 0
    if held:
        yield "".join(held)


def write_atomic(path: str | Path, text: str | bytes | Iterable[str]) -> None:
    """Write `text` (or bytes, or text in chunks as a report makes them) to `path` so that
    the path holds either the old file or the whole new one, never a truncated mix: a temporary file in the same folder, flushed to disk, then
    renamed over the old. Only a regular file (or nothing) is replaced: a device, a FIFO,
    a folder or a symbolic link at `path` is refused, so `-o /dev/null` as root cannot
    replace the system's. The new file has the old file's mode, or the umask's for a new
    one (a temporary file's 0600 would hide a CI artifact from its readers). Any failure
    (a full disk, a read-only folder) is an OutputError naming the path and the reason."""
    target = Path(path)
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        raise OutputError(f"cannot write {target}: it is {what} (give the path of a regular file)")
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(text, bytes):
                handle.write(text)
            else:
                for piece in pieces([text] if isinstance(text, str) else text):
                    handle.write(piece.encode("utf-8"))
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _sync_folder(target.parent)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sync_folder(folder: Path) -> None:
    """The rename itself reaches the disk (best effort: not every system can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
