"""A raised error keeps what it shows, not what the failed call was holding.

An exception's traceback keeps every frame it passed through, and each frame its locals:
the body being read (up to ``max_response_bytes``), the parsed JSON, the response with its
headers. Kept in ``report.failures`` or by a crash reporter, a fan-out of failing keys
would hold them all. `release` clears the locals of the frames an error has already left,
once it reaches the edge of the library; frames still running drop their own (``del``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import TracebackType
from typing import Final

__all__ = ["release"]

# Packages whose frames are the library's own work: a caller's frames (a hook, a fan-out
# operation) keep their locals for the caller's debugger.
_OURS: Final = frozenset({"apibricks", "aiohttp", "asyncio", "backoff", "json", "yarl"})


def release(error: BaseException) -> None:
    """Clear the locals of the finished frames of ours in ``error``'s tracebacks (its
    ``__cause__`` and ``__context__`` chain included).

    Call it where the error was just caught, before it is stored or handed on: every frame
    below the catching one has been left by the exception, so it is finished; the catching
    frame refuses (it is running) and is skipped. (A frame that caught the error earlier
    and is now suspended must never be cleared: before Python 3.13 that closes it.)
    """
    for link in _chain(error):
        tb: TracebackType | None = link.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_globals.get("__name__", "").partition(".")[0] in _OURS:
                with contextlib.suppress(RuntimeError):  # still running: drops its own
                    frame.clear()
            tb = tb.tb_next


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [error]
    while todo:
        link = todo.pop()
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        todo += [e for e in (link.__cause__, link.__context__) if e is not None]
