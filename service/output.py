"""Files the CLI writes for a user (exports, figures): whole or not at all.

Each is written to a temporary file beside its destination and renamed over it only once
complete, so a failed write (a full disk, a bad path, an error mid-way) leaves whatever the
user had at that path as it was. An operating-system error becomes an :class:`OutputError`
naming the path and the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from service.errors import OutputError


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
