"""Files a user hands the CLI (queries, question sets) or asks it for (exports, figures).

One that cannot be read is an :class:`InvalidRequest` saying which and why. One that is
written is written to a temporary file beside its destination and renamed over it only once
complete, so a failed write (a full disk, a bad path, an error mid-way) leaves whatever the
user had at that path as it was. An operating-system error becomes an :class:`OutputError`
naming the path and the reason.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from service.errors import InvalidRequest, OutputError


def read_user_text(path: str | Path, what: str, stdin: bool = False) -> str:
    """The UTF-8 text of ``path`` (with ``stdin``, "-" is standard input); InvalidRequest
    "cannot read {what} {path}: …" when it is missing, a directory, unreadable or not UTF-8."""
    try:
        if stdin and str(path) == "-":
            return sys.stdin.read()
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest(f"cannot read {what} {path}: it is not UTF-8 text") from None
    except OSError as exc:
        raise InvalidRequest(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _cannot_write(out: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write {out}: {exc.strerror or exc}")


@contextmanager
def written_whole(out: Path) -> Iterator[Path]:
    """A temporary path to write ``out`` to; it replaces ``out`` when the block completes,
    and is removed if the block fails."""
    out = Path(out)
    if out.is_dir():
        raise OutputError(f"cannot write {out}: it is a directory; give a file name")
    blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise OutputError(f"cannot write {out}: {blocker} is a file, not a directory")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot_write(out, exc) from None
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        os.replace(temporary, out)
    except OSError as exc:
        raise _cannot_write(out, exc) from None
    finally:
        temporary.unlink(missing_ok=True)
