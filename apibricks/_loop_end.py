"""A call-back for "this event loop is ending", built from asyncio's public hooks only.

``asyncio.run``, ``asyncio.Runner``, pytest-asyncio and the sync facade all end a loop with
``loop.shutdown_asyncgens()``, which closes every async generator still suspended on it,
on that loop, while it can still run (after the remaining tasks were cancelled). An async
generator parked at its first ``yield`` is therefore a hook that runs just before the loop
closes: a connection pool it guards is closed there, cleanly, instead of being reported
as unclosed sockets once the loop is gone and nothing can close them any more (a client
used under one ``asyncio.run`` and never closed).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable

__all__ = ["LoopEndWatch"]


class LoopEndWatch:
    """Runs ``on_end()`` on the running loop when that loop shuts down its async generators.

    Made on the loop to watch. ``on_end`` (a bound method) is held weakly, so the watch
    keeps nothing alive; if its object is gone when the loop ends, nothing runs.
    """

    __slots__ = ("_agen",)

    def __init__(self, on_end: Callable[[], Awaitable[None]]) -> None:
        self._agen: AsyncGenerator[None, None] | None = _watch(weakref.WeakMethod(on_end))
        # The first step registers the generator with the running loop (its "firstiter"
        # hook) and parks it at its yield; no await happens before it, so it ends at once.
        with contextlib.suppress(StopIteration):
            self._agen.asend(None).send(None)

    async def disarm(self) -> None:
        """On the watched loop, when the pool is closed by other means: end the watch now
        (``on_end`` runs, and must see there is nothing left to do)."""
        agen, self._agen = self._agen, None
        if agen is not None:
            await agen.aclose()

    def abandon(self) -> None:
        """Forget the watch without running it (a forked child: the loop is the parent's).
        The generator is kept referenced for the life of the process, so no finalizer of a
        loop that does not run here is ever asked to close it."""
        if self._agen is not None:
            _ABANDONED.append(self._agen)
            self._agen = None


_ABANDONED: list[AsyncGenerator[None, None]] = []


async def _watch(
    on_end: weakref.WeakMethod[Callable[[], Awaitable[None]]],
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        if (callback := on_end()) is not None:
            await callback()
