"""One attempt's time limit: `asyncio.timeout`'s rule in a plain ``with`` block.

``asyncio.timeout`` (and its 3.10 backport) enters and leaves through two coroutines and a
state machine of enum members; per attempt of a fan-out that cost ~22k CPU instructions,
more than the rest of the transport's bookkeeping together (``benchmarks/README.md``). The
rule here is the same: at the deadline the task is cancelled, and leaving the block with
that cancellation turns it into `asyncio.TimeoutError` (on 3.11+ only when no other
cancellation was requested meanwhile, which then wins, as with ``asyncio.timeout``).
"""

from __future__ import annotations

import asyncio
import sys
from types import TracebackType

__all__ = ["Deadline"]


class Deadline:
    """``with Deadline(seconds):`` inside a task; None: no limit."""

    __slots__ = ("_cancelling", "_handle", "_seconds", "_task", "expired")

    def __init__(self, seconds: float | None) -> None:
        self.expired = False
        self._seconds = seconds
        self._handle: asyncio.Handle | None = None
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0

    def __enter__(self) -> Deadline:
        """The clock starts here: a deadline made but never entered cancels nothing."""
        seconds = self._seconds
        if seconds is None:
            return self
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("A deadline must be used inside a task.")
        self._task = task
        if sys.version_info >= (3, 11):
            self._cancelling = task.cancelling()
        loop = task.get_loop()
        if seconds <= 0:  # as asyncio.timeout: due already, it fires on the next loop turn
            self._handle = loop.call_soon(self._expire)
        else:
            self._handle = loop.call_at(loop.time() + seconds, self._expire)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if not self.expired or self._task is None:
            return
        if sys.version_info >= (3, 11):
            if self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
                raise asyncio.TimeoutError from exc
        elif exc_type is asyncio.CancelledError:
            raise asyncio.TimeoutError

    def _expire(self) -> None:
        assert self._task is not None
        self._task.cancel()
        self.expired = True
        self._handle = None
