"""The private event loop behind the sync facade: the only hand-written sync code.

Each `Client` owns ONE asyncio loop for its whole life (its aiohttp session is bound to
it), and never lets two threads run it at once. Who runs it depends on the call:

- A caller with no running loop of its own, while no other thread is using the loop,
  runs its call on that loop itself (`_OneRun`: ``run_until_complete`` less a turn).
  Handing the call to another thread and being woken back up costs two thread wake-ups
  per call, which on an idle machine is most of what the facade would add; this is the
  common case, a script.
- Otherwise the call goes to whichever thread runs the loop now, which serves it at
  once: another caller, or the loop thread, a daemon started the first time it is needed.
  The loop thread takes the loop when a driving caller's own call ends while others are
  pending, serves callers inside a running event loop (a notebook), and keeps the loop
  running while a ``fan_out`` iterator is open, so its other keys are fetched while the
  caller handles an item. Once nothing is left for it, it lets the loop go and parks.
- A call made while nobody runs the loop (a notebook's call, typically) is handed to the
  parked loop thread through a queue, which makes it the loop's runner at once, and the
  thread runs it as a script's caller does: no self-pipe, no ``epoll`` turn and no
  callbacks between threads. Its caller waits on a pipe, written by the loop thread the
  moment before it parks again: the write lets go of the GIL before it wakes the caller.

An interrupted call (Ctrl-C, a signal handler's exception) is cancelled on the loop and
its cancellation run to the end before the exception goes on, as ``asyncio.run`` does.
`close`, garbage collection of the client or interpreter exit closes the async client,
then whichever thread holds the loop cancels what is left, finalizes async generators
and closes it. After ``os.fork()`` the child starts afresh: the parent's loop is
abandoned there, never run or closed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import enum
import os
import queue
import signal
import sys
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from types import FrameType
from typing import Any, Generic, TypeVar

# The thread pool's module, imported now rather than inside a first call, where a signal
# handler's call could find it half-imported; at exit it cannot be imported (see _new_loop).
with contextlib.suppress(RuntimeError):
    import concurrent.futures.thread

from .._exceptions import APIBricksError, SyncCallError
from .._private_apis import C_SIGNAL

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


def _reentered_error() -> SyncCallError:
    """Refusing a call made on the thread running the client's loop, worded for what
    happened: with no task running there, only a signal handler can have interrupted the
    loop's wait; inside a task, it is code the call runs (or a handler interrupting it)."""
    loop = _running_loop()
    if loop is None or asyncio.current_task(loop) is None:
        where = "from a signal handler that interrupted one of its calls"
        instead = "the signal handler can set a flag that your code checks after the call"
    else:
        where = (
            "from code one of its calls runs (an event hook, on_progress, a fan_out "
            "operation), or from a signal handler that interrupted that code"
        )
        instead = "inside a callback, use the async client it is given"
    return SyncCallError(
        f"This sync apibricks Client was called {where}: the thread is busy running the "
        "client's event loop for that call, and the new call would wait for itself "
        f"forever, so it was not made. Make it once the running call has returned ({instead}), "
        "or from another thread or with another Client."
    )


def _no_thread_error() -> SyncCallError:
    return SyncCallError(
        "This sync apibricks Client needs its loop thread for this call (a call from inside "
        "a running event loop, a call while another is in flight, or an open fan_out "
        "iterator), and the interpreter is shutting down, where this Python starts no new "
        "thread (an atexit handler?). Make the call before exit begins, or one at a time "
        "from a thread with no running event loop."
    )


class _End(enum.Enum):
    END = enum.auto()


class _Busy(enum.Enum):
    BUSY = enum.auto()


class LoopThread:
    """A client's private asyncio loop, run by the calling thread when it can and by a
    lazily started daemon thread when it cannot.

    ``on_close`` (the async client's ``close``) runs on the loop when the client closes:
    by `close`, or when ``owner`` is garbage collected, or at interpreter exit.
    """

    def __init__(self, owner: object, on_close: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._on_close = on_close
        # Guards every field below. Reentrant: a signal handler may call the client while this
        # thread holds it, and must get an error rather than hang.
        self._cond = threading.Condition(threading.RLock())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None  # the background thread, once started
        self._runner: int | None = None  # ident of the thread running or winding down the loop
        self._in_background = False  # the background thread is inside run_forever
        # Calls for the background thread, put only while nobody runs the loop (under the
        # lock), and None to wake it up (it then looks at what is wanted).
        self._jobs: queue.SimpleQueue[_Call[Any] | None] = queue.SimpleQueue()
        # Pipes for queued calls' callers to wait on (see _Call.pipe): free ones, and ones
        # whose caller stopped waiting before reading its byte, never reused; both closed
        # with this object, by which time the loop thread, which writes to them, has ended.
        self._pipes: list[tuple[int, int]] = []
        self._abandoned_pipes: list[tuple[int, int]] = []
        weakref.finalize(self, _close_pipes, self._pipes, self._abandoned_pipes)
        self._driven: asyncio.Task[Any] | None = None  # a caller's own call, while it drives
        # Calls handed to whoever runs the loop: counted in by the callers (under the lock)
        # and out as they finish, on the loop; one thread at a time runs it, so no lock is
        # needed there, and a caller woken with its result takes no lock on its way out.
        self._calls_in = self._calls_out = 0
        self._iterators = 0  # open iterate() generators: background progress wanted
        self._pid = os.getpid()
        self._closed = False
        # Holds self and on_close but not owner, so owner can be collected.
        self._finalizer = weakref.finalize(owner, self._shutdown, start=False)
        _LIVE.add(self)

    @property
    def closed(self) -> bool:
        return self._closed

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and return its result, blocking this thread."""
        try:
            loop = self._get_loop()
        except BaseException:
            coro.close()
            raise
        if self._runner == threading.get_ident():
            # This thread runs the loop for another call, and is interrupted (a signal
            # handler) or called back (a hook) in the middle of it.
            coro.close()
            raise _reentered_error()
        running = _running_loop()
        if running is None:
            result = self._drive(loop, coro)
            if result is not _Busy.BUSY:
                return result
        return self._submit(loop, coro)

    def iterate(self, agen: AsyncIterator[T]) -> Iterator[T]:
        """A plain iterator over ``agen``, pulling one item at a time; while it is open the
        loop runs in the background, so ``agen``'s work goes on between items.

        Leaving early (``break``, an exception, garbage collection) closes ``agen`` on
        the loop, which cancels whatever it still had in flight.
        """
        with self._cond:
            self._iterators += 1
        try:
            while True:
                item = self.run(_anext(agen))
                if item is _End.END:
                    return
                yield item
        finally:
            try:
                if not self._closed:
                    self.run(_aclose(agen))
            finally:
                with self._cond:
                    self._iterators -= 1
                    idle = self._in_background and not self._wanted()
                if idle and self._loop is not None:
                    # Let the loop thread park, so the next call is one queue hand-off.
                    with contextlib.suppress(RuntimeError):  # closed meanwhile
                        self._loop.call_soon_threadsafe(self._stop_background)

    def flatten(self, runs: AsyncIterator[list[T]]) -> Iterator[T]:
        """The items of ``runs``, one run per loop hand-off, as `iterate` otherwise."""
        for run in self.iterate(runs):
            yield from run

    def close(self) -> None:
        """Run ``on_close`` on the loop, then wind the loop down and stop the thread."""
        if self._finalizer.detach() is not None:
            self._shutdown(start=True)

    # -- who runs the loop ---------------------------------------------------------------

    def _wanted(self) -> bool:
        """Whether the background thread should run the loop (under the lock)."""
        return self._calls_in != self._calls_out or (self._iterators > 0 and not self._closed)

    def _drive(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T | _Busy:
        """Run ``coro`` on the loop on this thread, unless another thread uses the loop."""
        driving = False
        task: asyncio.Task[T] | None = None
        try:
            with self._cond:
                while self._runner is not None or self._wanted() or self._closed:
                    if self._wanted() or self._closed or not self._in_background:
                        return _Busy.BUSY
                    # The loop thread has the loop with nothing to run (it served other
                    # threads, or a caller inside a running loop): take it back, once.
                    loop.call_soon_threadsafe(self._stop_background)
                    self._cond.wait(_WAIT_SLICE)
                driving = True
                self._runner = threading.get_ident()
            run = _OneRun(loop, coro)
            task = self._driven = run.task
            ctrl_c = _CtrlC.install(loop, task)
            try:
                run.to_the_end()
                result = task.result()
            except BaseException as error:
                if not (isinstance(error, Exception) and task.done()):  # interrupted
                    run.settle()
                if ctrl_c is not None and ctrl_c.pressed:
                    raise KeyboardInterrupt from None  # the call is cancelled, and unwound
                if isinstance(error, asyncio.CancelledError) and self._closed:
                    raise _closed_error() from None  # cancelled by close() from another thread
                raise
            finally:
                if ctrl_c is not None:
                    ctrl_c.uninstall()
            if ctrl_c is not None and ctrl_c.pressed:
                raise KeyboardInterrupt  # pressed as the call ended
            return result
        except BaseException:
            if task is None:
                coro.close()
            raise
        finally:
            if driving:
                self._driven = None
                self._let_go()

    def _let_go(self) -> None:
        """This thread stops running the loop: pass it on, or wind it down if closed."""
        with self._cond:
            if not self._closed:
                self._runner = None
                if self._wanted():
                    self._start_background()
                return
        self._wind_down()

    def _submit(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
        """Hand ``coro`` to whichever thread runs the loop (the background one if none) and wait.

        If the wait is interrupted, the coroutine is cancelled on the loop and the
        cancellation awaited before the exception goes on.
        """
        call = _Call(coro, self)
        with self._cond:
            if self._closed:
                coro.close()
                raise _closed_error()
            queued = self._runner is None
            if queued:
                try:
                    self._start_thread()
                except SyncCallError:
                    coro.close()
                    raise
                # The loop thread's from now on: a call arriving meanwhile goes to it on
                # the loop (at once), not into the queue behind this one.
                self._runner = self._thread.ident  # type: ignore[union-attr]  # started
                call.pipe = self._take_pipe()
                self._jobs.put(call)  # for the loop thread, which runs it when it wakes
            self._calls_in += 1
        try:
            if not queued:
                try:
                    loop.call_soon_threadsafe(call.start)
                except RuntimeError:  # closed (and wound down) since the check above
                    coro.close()
                    raise _closed_error() from None
            return call.wait(loop)
        except BaseException:
            if not call.finished:
                call.cancel_and_wait(loop)
            raise

    def _take_pipe(self) -> tuple[int, int] | None:
        """A pipe for one queued call's caller to wait on (under the lock); None where
        there is none (Windows, or no descriptor left): that caller waits on a lock."""
        if self._pipes:
            return self._pipes.pop()
        if not _PIPE_WAKE:
            return None
        try:
            return os.pipe()
        except OSError:
            return None

    def _start_background(self) -> None:
        """Wake the background thread, starting it the first time (under the lock)."""
        self._start_thread()
        self._jobs.put(None)

    def _start_thread(self) -> None:
        """Start the background thread, the first time it is needed (under the lock)."""
        if self._thread is None:
            thread = threading.Thread(target=self._serve, name="apibricks-loop", daemon=True)
            try:
                thread.start()
            except RuntimeError as error:  # "can't create new thread at interpreter shutdown"
                raise _no_thread_error() from error
            self._thread = thread

    def _serve(self) -> None:
        """The background thread: run the loop whenever it is wanted and free, until closed;
        parked on the queue of calls in between."""
        me = threading.get_ident()
        while True:
            job = self._jobs.get()
            with self._cond:
                if self._closed:
                    if job is not None:
                        job.refuse()
                    break
                loop = self._loop
                if loop is None or (job is None and not self._wanted()):
                    continue  # a wake-up with nothing left to do
                if self._runner is None:
                    self._runner = me
                elif self._runner != me:  # a wake-up while another thread runs the loop
                    if job is not None:  # (a call is queued only for this thread)
                        loop.call_soon_threadsafe(job.start)
                    continue
            if not self._serve_while_wanted(loop, job):
                break
        with self._cond:
            if self._runner is None and self._loop is not None:
                self._runner = me
            if self._runner != me:
                return
        self._wind_down()

    def _serve_while_wanted(self, loop: asyncio.AbstractEventLoop, job: _Call[Any] | None) -> bool:
        """Holding the loop: run ``job``, then the loop for as long as calls or iterators
        want it. True once it let the loop go; False when closed (it keeps the loop, to
        wind it down)."""
        woken = job is None or not job.run_here(loop)
        try:
            while True:
                with self._cond:
                    if self._closed:
                        return False
                    if not self._wanted():
                        self._runner = None
                        self._cond.notify_all()  # a caller may be waiting to take it
                        return True
                    self._in_background = True
                    while not self._jobs.empty():  # a wake-up came before queued calls
                        queued = self._jobs.get()
                        if queued is not None:
                            loop.call_soon(queued.start)
                if not woken:
                    woken = True
                    job.wake()  # type: ignore[union-attr]  # not woken means a job
                try:
                    loop.run_forever()  # until _finish or a caller stops it
                finally:
                    with self._cond:
                        self._in_background = False
        finally:
            if not woken:
                job.wake()  # type: ignore[union-attr]  # last, just before this thread parks

    def _stop_background(self) -> None:
        """On the loop, for a caller taking the loop back. Decides again here: a call may
        have arrived meanwhile, which the waiting caller then hands over as well."""
        with self._cond:
            if self._in_background and not self._wanted():
                asyncio.get_running_loop().stop()
            else:
                self._cond.notify_all()

    def _finished_one(self) -> None:
        """On the loop, as a call ends: the loop thread parks once nothing else wants it.
        Read without the lock; the thread decides again under it before letting go."""
        self._calls_out += 1
        if self._in_background and not self._wanted():
            asyncio.get_running_loop().stop()

    # -- the loop's life: created on first use, forgotten after a fork, wound down once --

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and self._pid == os.getpid():
            return loop
        with self._cond:
            if self._pid != os.getpid():
                self._forget_after_fork()
            if self._closed:
                raise _closed_error()
            if self._loop is None:
                loop, executor = _new_loop()
                if self._loop is None:
                    self._loop, self._executor = loop, executor
                else:  # made meanwhile by a signal handler's call on this thread (reentrant lock)
                    if executor is not None:
                        executor.shutdown(wait=False)
                    loop.close()
            return self._loop

    def _forget_after_fork(self) -> None:
        if self._loop is not None:
            _ABANDONED_AFTER_FORK.append(self._loop)
        self._loop = self._executor = self._thread = self._runner = self._driven = None
        self._in_background = False
        self._jobs = queue.SimpleQueue()
        _close_pipes(self._pipes, self._abandoned_pipes)  # the parent's copies stay open
        self._calls_in = self._calls_out = self._iterators = 0
        self._pid = os.getpid()

    def _shutdown(self, *, start: bool) -> None:
        """Close the async client on the loop, then wind the loop down and end the thread.

        From the finalizer ``start`` is False: a loop that never ran has nothing to
        release, and no loop may be created at interpreter exit.
        """
        with self._cond:
            if self._pid != os.getpid():
                self._forget_after_fork()
            if self._closed or (self._loop is None and not start):
                self._closed = True
                return
            if self._loop is not None and _running_loop() is self._loop:
                # On the loop itself (collected there): it cannot wait for itself. The
                # thread running the loop winds it down once it lets go.
                self._loop.create_task(self._close_on_loop())
                return
        try:
            self.run(self._on_close())
        finally:
            self._close_and_wait()

    async def _close_on_loop(self) -> None:
        try:
            await self._on_close()
        finally:
            with self._cond:
                self._closed = True
            self._make_runner_let_go()

    def _close_and_wait(self) -> None:
        """Refuse calls from now on, get the loop wound down, and end the thread."""
        me = threading.get_ident()
        with self._cond:
            self._closed = True
            if self._runner is not None and self._loop is not None:
                self._loop.call_soon_threadsafe(self._make_runner_let_go)
            while self._loop is not None and self._runner != me:
                if self._runner is None:
                    if _running_loop() is None:
                        self._runner = me  # this thread can run the loop: wind it down here
                        break
                    self._start_background()  # it can (a caller inside a running loop)
                self._cond.wait()
            wind_down = self._runner == me
            thread = self._thread
        if wind_down:
            self._wind_down()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _make_runner_let_go(self) -> None:
        """On the loop, once closed: the background thread stops; a caller's call is cancelled."""
        if self._in_background:
            asyncio.get_running_loop().stop()
        elif self._driven is not None:
            self._driven.cancel()

    def _wind_down(self) -> None:
        """By the thread holding the loop, once closed: cancel what is left (calls from
        other threads), finalize async generators, join the executor, close the loop."""
        loop, executor = self._loop, self._executor
        try:
            if loop is not None:
                loop.run_until_complete(_cancel_the_rest())
            if executor is not None:
                executor.shutdown(wait=True)
        finally:
            if loop is not None:
                loop.close()
            with self._cond:
                self._loop = self._executor = None
                self._runner = None
                self._cond.notify_all()
                if self._thread is not None:
                    self._jobs.put(None)  # parked: to see it is closed, and end


class _Call(Generic[T]):
    """One coroutine handed to the thread running the loop, and the waiting caller's handle.

    A plain lock wakes the caller: cheaper than a future and its done callbacks, which
    would cost the loop an extra turn per call. Started on a running loop, the task
    itself releases it as it ends; run by the parked loop thread (`run_here`), the thread
    releases it just before it parks again.
    """

    __slots__ = ("coro", "done", "error", "finished", "owner", "pipe", "result", "task")

    def __init__(self, coro: Coroutine[Any, Any, T], owner: LoopThread) -> None:
        self.coro = coro
        self.owner = owner
        self.done = threading.Lock()
        self.done.acquire()  # released once, when the outcome is in
        self.finished = False
        self.result: T | None = None
        self.error: BaseException | None = None
        self.task: asyncio.Task[Any] | None = None
        # Queued for the parked loop thread: the caller waits on this pipe's read end. A
        # write releases the GIL before it wakes the caller, which then finds the GIL free;
        # a lock released by a thread holding the GIL often has the woken caller preempt
        # that thread and then wait for the GIL (measured: 2.5 sleeps per call, not 1).
        self.pipe: tuple[int, int] | None = None

    def start(self) -> None:
        """On the loop: run the coroutine as a task, unless the client is closing."""
        if self.finished:  # queued, and cancelled before it ever started
            return
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
        """On the loop: the outcome is in; wake the caller."""
        self.error = error
        self.owner._finished_one()
        self.wake()

    def refuse(self) -> None:
        """Taken from the queue once the client is closed: never started, and never will be."""
        self.coro.close()
        self.error = _closed_error()
        self.wake()

    def run_here(self, loop: asyncio.AbstractEventLoop) -> bool:
        """On the loop thread, which took the idle loop for this call: run it to its end
        with ``run_until_complete`` and keep the outcome; `wake` tells the caller. False
        if it had ended already (cancelled while queued)."""
        if self.finished:
            return False
        run = _OneRun(loop, self.coro)
        task = self.task = run.task
        owner = self.owner
        owner._driven = task  # what closing the client cancels
        try:
            run.to_the_end()
        except BaseException as error:
            if not task.done():  # not the call's: another callback's exception stopped the loop
                run.settle()
                self.error = error
        finally:
            owner._driven = None
        if self.error is None:  # else: the loop was stopped by another callback's error
            if task.cancelled():
                self.error = asyncio.CancelledError()
            elif (raised := task.exception()) is not None:
                self.error = raised
            else:
                self.result = task.result()
        owner._calls_out += 1
        return True

    def wake(self) -> None:
        """The outcome is in: the caller's now."""
        self.finished = True
        if self.pipe is None:
            self.done.release()
        else:
            os.write(self.pipe[1], b"\0")  # one byte per call: never blocks

    def _wait_on_pipe(self, pipe: tuple[int, int]) -> None:
        """Read this call's one byte, then give the pipe back for another call."""
        os.read(pipe[0], 1)
        self.owner._pipes.append(pipe)

    def _abandon_pipe(self, pipe: tuple[int, int]) -> None:
        """Stopped waiting (interrupted): this call's byte may come later, so the pipe is
        not reused."""
        self.owner._abandoned_pipes.append(pipe)

    def wait(self, loop: asyncio.AbstractEventLoop) -> T:
        if self.pipe is not None:
            try:
                self._wait_on_pipe(self.pipe)
            except BaseException:  # interrupted: cancel_and_wait waits on, unless it ended
                if self.finished:
                    self._abandon_pipe(self.pipe)
                raise
        while self.pipe is None and not self.done.acquire(timeout=_WAIT_SLICE):
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
            if self.pipe is not None:
                self._abandon_pipe(self.pipe)
            return
        if self.pipe is not None:  # the loop thread always ends a call it was given
            try:
                self._wait_on_pipe(self.pipe)
            except BaseException:
                self._abandon_pipe(self.pipe)
                raise
            return
        while not self.done.acquire(timeout=_WAIT_SLICE) and not loop.is_closed():
            pass

    def _cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
        elif not self.finished:  # start() never ran, and never will (callbacks run in order)
            self.coro.close()
            self._finish(asyncio.CancelledError())


class _CtrlC:
    """While a caller drives the loop on the main thread, Ctrl-C cancels its call's task,
    which unwinds on the loop, and KeyboardInterrupt follows; rather than being raised
    wherever the loop happens to be (as ``asyncio.Runner`` does). A second Ctrl-C, or any
    other signal handler's exception, raises at once, and `_OneRun.settle` cleans up."""

    __slots__ = ("loop", "pressed", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        self.loop, self.task, self.pressed = loop, task, False

    @classmethod
    def install(cls, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> _CtrlC | None:
        if threading.current_thread() is not threading.main_thread():
            return None
        if C_SIGNAL.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return None  # the caller's own handler: left alone
        self = cls(loop, task)
        C_SIGNAL.signal(signal.SIGINT, self._on_sigint)
        return self

    def uninstall(self) -> None:
        C_SIGNAL.signal(signal.SIGINT, signal.default_int_handler)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.pressed or self.task.done():
            raise KeyboardInterrupt
        self.pressed = True
        self.task.cancel()
        self.loop.call_soon_threadsafe(_nothing)  # wakes the loop out of select()


def _nothing() -> None:
    pass


def _new_loop() -> tuple[asyncio.AbstractEventLoop, concurrent.futures.ThreadPoolExecutor | None]:
    """A new event loop with an executor of our own (aiohttp resolves host names in it),
    shut down by us: the loop's shutdown_default_executor() starts a thread, which exit
    forbids."""
    loop = asyncio.new_event_loop()
    try:
        executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="apibricks-loop-dns")
    except RuntimeError:
        # First used in an atexit handler: the pool's module cannot register its own exit
        # hook any more. Calls to an IP address need no pool; a host name fails as
        # APIConnectionError, as it does for AsyncClient there.
        return loop, None
    except BaseException:
        loop.close()
        raise
    loop.set_default_executor(executor)
    return loop, executor


_PIPE_WAKE = sys.platform != "win32"  # there a pipe read is not interrupted by Ctrl-C


def _close_pipes(*pipes: list[tuple[int, int]]) -> None:
    for some in pipes:
        for pipe in some:
            for end in pipe:
                with contextlib.suppress(OSError):
                    os.close(end)
        some.clear()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _OneRun(Generic[T]):
    """A call the loop is run for, on the thread holding the loop, as ``run_until_complete``
    would but one loop turn shorter: the call's task stops the loop itself as it ends,
    where ``run_until_complete`` waits one more turn for its done callback (and wraps
    and unwraps it), which was a third of what a call with no I/O cost."""

    __slots__ = ("coro", "loop", "started", "stop_at_end", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> None:
        self.loop, self.coro = loop, coro
        self.started = False
        self.stop_at_end = True
        self.task: asyncio.Task[T] = loop.create_task(self._run())
        self.task.add_done_callback(self._if_never_started)

    async def _run(self) -> T:
        self.started = True
        try:
            return await self.coro
        finally:
            if self.stop_at_end:
                self.loop.stop()

    def _if_never_started(self, task: asyncio.Task[T]) -> None:
        """Cancelled before its first step (by close, or Ctrl-C), `_run` never ran: close
        the call's coroutine, never awaited, and stop the loop in its place."""
        if not self.started:
            self.coro.close()
            if self.stop_at_end:
                self.loop.stop()

    def to_the_end(self) -> None:
        """Run the loop until the task is done. An exception from outside the task (a
        signal handler's) propagates, the task unfinished: then `settle`."""
        while not self.task.done():
            self.loop.run_forever()

    def settle(self) -> None:
        """After an exception from outside the task stopped the loop (Ctrl-C): cancel it
        and run its cancellation to the end on this thread, as ``asyncio.run`` does, and
        what its end left scheduled (its connection's closing), since nothing else may run
        the loop until the next call."""
        self.stop_at_end = False
        self.task.cancel()
        # The exception that interrupted the call is the one to raise, not one from here.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            self.loop.run_until_complete(_unwound(self.task))


async def _unwound(task: asyncio.Task[Any]) -> None:
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved: else asyncio logs "exception was never retrieved"
    await asyncio.sleep(0)  # one more turn for the callbacks its end scheduled


async def _anext(agen: AsyncIterator[T]) -> T | _End:
    try:
        return await agen.__anext__()
    except StopAsyncIteration:
        return _End.END


async def _aclose(agen: AsyncIterator[Any]) -> None:
    aclose = getattr(agen, "aclose", None)
    if aclose is not None:
        await aclose()


async def _cancel_the_rest() -> None:
    """Cancel what is left (calls from other threads) and finalize async generators."""
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()


def _after_fork_in_child() -> None:
    # A lock held by another thread at fork time would stay held forever in the child.
    for runner in list(_LIVE):
        runner._cond = threading.Condition(threading.RLock())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
