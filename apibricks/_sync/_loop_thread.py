"""The private event loop behind the sync facade: the only hand-written sync code.

Each `Client` owns one `LoopThread`: a daemon thread running its own asyncio loop,
started on the first call. Blocking methods submit the async client's coroutines to it
and wait, so they work in plain scripts, from many threads at once, and inside a running
event loop (a notebook) alike. The thread stops when the client closes, or when the
client is garbage collected, or at interpreter exit.

After ``os.fork()`` the child notices the new pid and starts a fresh thread and loop; the
parent's loop is abandoned in the child, never run, stopped or closed there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import os
import sys
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Generic, TypeVar

from .._exceptions import APIBricksError

__all__ = ["LoopThread"]

T = TypeVar("T")

# How often a waiting caller wakes up: a Ctrl-C is noticed within this many seconds even
# where a lock wait cannot be interrupted by a signal.
_WAIT_SLICE = 0.1

# Loops inherited from the parent by a forked child: running on a thread that does not
# exist here, so never to be closed; held so that their finalizers stay quiet.
_ABANDONED_AFTER_FORK: list[asyncio.AbstractEventLoop] = []
_LIVE: weakref.WeakSet[LoopThread] = weakref.WeakSet()


def _closed_error() -> APIBricksError:
    return APIBricksError("This client is closed; create a new one.")


class _End(enum.Enum):
    END = enum.auto()


class LoopThread:
    """A lazily started daemon thread running a private asyncio loop.

    ``on_close`` (the async client's ``close``) runs on the loop when the thread is
    stopped: by `close`, or when ``owner`` is garbage collected, or at interpreter exit.
    """

    def __init__(self, owner: object, on_close: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._on_close = on_close
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False
        # Holds self and on_close but not owner, so owner can be collected.
        self._finalizer = weakref.finalize(owner, self._shutdown, start=False)
        _LIVE.add(self)

    @property
    def closed(self) -> bool:
        return self._closed

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop thread and return its result, blocking this thread.

        If the wait is interrupted (``KeyboardInterrupt``, a signal handler's exception),
        the coroutine is cancelled on the loop and the cancellation awaited before the
        exception goes on: nothing is left running behind the caller's back.
        """
        try:
            loop = self._running_loop()
        except BaseException:
            coro.close()
            raise
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                "A sync apibricks client was called on its own loop thread, where it would "
                "wait for itself forever; inside fan_out's operation use the async client "
                "it is given."
            )
        call = _Call(coro, self)
        try:
            loop.call_soon_threadsafe(call.start)
            return call.wait(loop)
        except BaseException:
            if not call.finished:
                call.cancel_and_wait(loop)
            raise

    def iterate(self, agen: AsyncIterator[T]) -> Iterator[T]:
        """A plain iterator over ``agen``, pulling one item at a time on the loop thread.

        Leaving early (``break``, an exception, garbage collection) closes ``agen`` on
        the loop, which cancels whatever it still had in flight.
        """
        try:
            while True:
                item = self.run(_anext(agen))
                if item is _End.END:
                    return
                yield item
        finally:
            if not self._closed:
                self.run(_aclose(agen))

    def close(self) -> None:
        """Run ``on_close`` on the loop, then stop the thread and wait for it to end."""
        if self._finalizer.detach() is not None:
            self._shutdown(start=True)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and self._pid == os.getpid():
            return loop
        with self._lock:
            if self._pid != os.getpid():
                self._forget_after_fork()
            if self._closed:
                raise _closed_error()
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=_serve, args=(loop,), name="apibricks-loop", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def _forget_after_fork(self) -> None:
        if self._loop is not None:
            _ABANDONED_AFTER_FORK.append(self._loop)
        self._loop = self._thread = None
        self._pid = os.getpid()

    def _shutdown(self, *, start: bool) -> None:
        """Close the async client on the loop, then stop the loop and join its thread.

        From the finalizer ``start`` is False: a loop that never ran has nothing to
        release, and no thread may be started at interpreter exit.
        """
        with self._lock:
            if self._pid != os.getpid():
                self._forget_after_fork()
            if self._closed or (self._loop is None and not start):
                self._closed = True
                return
            if threading.current_thread() is self._thread:
                # Collected on the loop thread itself: it cannot wait for itself.
                self._closed = True
                self._loop = self._thread = None
                running = asyncio.get_running_loop()
                running.create_task(self._on_close()).add_done_callback(lambda _: running.stop())
                return
        try:
            self.run(self._on_close())
        finally:
            with self._lock:
                self._closed = True  # from here on, calls that reach the loop are refused
                loop, thread = self._loop, self._thread
                self._loop = self._thread = None
            if loop is not None and thread is not None:
                loop.call_soon_threadsafe(loop.stop)
                thread.join()


class _Call(Generic[T]):
    """One coroutine submitted to the loop thread, and the waiting caller's handle on it.

    A plain lock, released by the task itself as it ends, wakes the caller: cheaper than
    a future and its done callbacks, which would cost the loop an extra turn per call.
    """

    __slots__ = ("coro", "done", "error", "finished", "owner", "result", "task")

    def __init__(self, coro: Coroutine[Any, Any, T], owner: LoopThread) -> None:
        self.coro = coro
        self.owner = owner
        self.done = threading.Lock()
        self.done.acquire()  # released once, when the outcome is in
        self.finished = False
        self.result: T | None = None
        self.error: BaseException | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """On the loop thread: run the coroutine as a task, unless the client is closing."""
        if self.owner.closed:
            self.coro.close()
            self._finish(_closed_error())
        elif sys.version_info >= (3, 12):  # the first step runs now: one loop turn less
            self.task = asyncio.Task(self._run(), loop=asyncio.get_running_loop(), eager_start=True)
        else:
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            self.result = await self.coro
        except BaseException as error:  # the caller's to see, cancellation included
            self._finish(error)
        else:
            self._finish(None)

    def _finish(self, error: BaseException | None) -> None:
        self.error = error
        self.finished = True
        self.done.release()

    def wait(self, loop: asyncio.AbstractEventLoop) -> T:
        while not self.done.acquire(timeout=_WAIT_SLICE):
            if loop.is_closed():
                if self.done.acquire(blocking=False):
                    break
                # Submitted just as the client closed: the loop will never start it.
                self.coro.close()
                raise _closed_error()
        error, self.error = self.error, None
        if isinstance(error, asyncio.CancelledError) and self.owner.closed:
            # Not cancelled by this caller: the loop shut down under an in-flight call.
            raise _closed_error() from None
        if error is not None:
            raise error
        return self.result  # type: ignore[return-value]  # set when there is no error

    def cancel_and_wait(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel the task on the loop and wait until it has finished unwinding."""
        try:
            loop.call_soon_threadsafe(self._cancel)
        except RuntimeError:  # the loop is closed: nothing runs there any more
            self.coro.close()
            return
        while not self.done.acquire(timeout=_WAIT_SLICE) and not loop.is_closed():
            pass

    def _cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
        elif not self.finished:  # start() never ran, and never will (callbacks run in order)
            self.coro.close()
            self._finish(asyncio.CancelledError())


async def _anext(agen: AsyncIterator[T]) -> T | _End:
    try:
        return await agen.__anext__()
    except StopAsyncIteration:
        return _End.END


async def _aclose(agen: AsyncIterator[Any]) -> None:
    aclose = getattr(agen, "aclose", None)
    if aclose is not None:
        await aclose()


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    """The loop thread: run until stopped, then wind down as ``asyncio.run`` does."""
    # Our own executor (aiohttp resolves host names in it), shut down right here: the
    # loop's shutdown_default_executor() starts a thread, which interpreter exit forbids.
    executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="apibricks-loop-dns")
    loop.set_default_executor(executor)
    try:
        loop.run_forever()
    finally:
        try:
            loop.run_until_complete(_wind_down())
            executor.shutdown(wait=True)
        finally:
            loop.close()


async def _wind_down() -> None:
    """Cancel what is left (calls from other threads) and finalize async generators."""
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()


def _after_fork_in_child() -> None:
    # A lock held by another thread at fork time would stay held forever in the child.
    for runner in list(_LIVE):
        runner._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
