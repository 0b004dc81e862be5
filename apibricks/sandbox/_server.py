"""Running a Sandbox on a daemon thread with its own event loop, for synchronous callers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._app import Sandbox

__all__ = ["serve_in_thread"]

_START_TIMEOUT = 30.0


@contextlib.contextmanager
def serve_in_thread(sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve until the ``with`` block exits; startup errors are raised in the caller."""
    ready: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Event, str]]
    ready = concurrent.futures.Future()
    errors: list[BaseException] = []

    async def main() -> None:
        stop = asyncio.Event()
        async with sandbox.serve(host, port) as url:
            ready.set_result((asyncio.get_running_loop(), stop, url))
            await stop.wait()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # handed to the caller: a thread must not die silently
            if not ready.done():
                ready.set_exception(exc)
            else:
                errors.append(exc)

    thread = threading.Thread(target=run, name="apibricks-sandbox", daemon=True)
    thread.start()
    loop, stop, url = ready.result(_START_TIMEOUT)
    try:
        yield url
    finally:
        with contextlib.suppress(RuntimeError):  # the loop is already gone
            loop.call_soon_threadsafe(stop.set)
        # Never exited and collected at exit (3.13 freezes daemon threads first): no join.
        if not sys.is_finalizing():
            thread.join()
        if errors:
            raise errors[0]
