"""``-o FILE`` never half-written: a temporary file beside it, renamed over it at the end.

The rename is atomic on one file system (hence *beside* it), so a reader, a crash or a
Ctrl-C sees either the old file (or none) or the complete new one. An interrupted run
removes its temporary file; only a ``kill -9`` can leave one (``.FILE.*.part``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TextIO

__all__ = ["AtomicFile"]


class AtomicFile:
    """A temporary file beside ``target``: `commit` renames it over the target, `discard`
    removes it."""

    def __init__(self, target: Path) -> None:
        self.target = target
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        self.path = Path(name)
        with contextlib.suppress(OSError):  # file systems without modes
            os.chmod(fd, _mode_for(target))  # mkstemp makes it 0600; keep what users expect
        os.close(fd)

    def open_text(self) -> TextIO:
        # A lone surrogate (valid in JSON, not in UTF-8) is written as its JSON escape, \udXXX.
        return self.path.open("w", encoding="utf-8", errors="backslashreplace", newline="")

    def commit(self) -> None:
        os.replace(self.path, self.target)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


def _mode_for(target: Path) -> int:
    """The target's own mode if it exists, else what a plain ``open`` would give."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
