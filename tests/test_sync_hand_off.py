"""How a sync call from inside a running event loop (a notebook cell) reaches the client's
loop (issue 29 item 3): the parked loop thread takes it from a queue, runs it as a script's
caller would (one loop run for the call, no loop turn more) and lets the loop go as it
wakes the caller, so the loop is not running between two calls."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import os
import signal
import sys
import threading
import time
import warnings
from typing import Any

import pytest

import apibricks
from apibricks import sandbox
from apibricks._sync import _loop_thread

KEY = "sk_sandbox_hand_off"


def request_threads() -> tuple[list[str], dict[str, Any]]:
    """The name of the thread each request is sent from, and the hooks that record it."""
    names: list[str] = []
    return names, {"request": [lambda event: names.append(threading.current_thread().name)]}


async def test_between_calls_from_a_running_loop_the_client_loop_is_not_running(url: str) -> None:
    names, hooks = request_threads()
    with apibricks.Client(api_key=KEY, base_url=url, event_hooks=hooks) as client:
        for _ in range(3):
            assert len(client.invoices.list_paid()) == 2
            # Let go before the caller was woken: nothing polls for the next call.
            assert not client._loop._loop.is_running()  # type: ignore[union-attr]
        assert names == ["apibricks-loop"] * 3

        def from_a_plain_thread() -> None:
            assert len(client.invoices.list_paid()) == 2

        plain = threading.Thread(target=from_a_plain_thread, name="plain")
        plain.start()
        plain.join()
        # The idle loop thread held nothing: the plain thread ran its call itself.
        assert names[-1] == "plain"
        assert len(client.invoices.list_paid()) == 2
        assert names[-1] == "apibricks-loop"


async def test_a_fan_out_from_a_running_loop_then_plain_calls(url: str) -> None:
    """While the iterator is open the loop runs in the background; after it, calls are
    queued hand-offs again, and every one of them ends in its value."""
    keys = ["sk_sandbox_a", "sk_sandbox_b", "sk_sandbox_c"]
    with apibricks.Client(api_key=KEY, base_url=url) as client:
        outcomes = list(client.fan_out(keys, lambda org: org.invoices.list_paid()))
        assert [len(outcome.value or []) for outcome in outcomes] == [2, 2, 2]
        for _ in range(3):
            assert len(client.invoices.list_paid()) == 2
        assert not client._loop._loop.is_running()  # type: ignore[union-attr]


@pytest.mark.skipif(sys.platform == "win32", reason="no pipes there: callers wait on a lock")
async def test_a_waiting_callers_pipe_is_reused_and_closed_with_the_client(url: str) -> None:
    """A caller of the parked loop thread waits on a pipe: one per call in flight, taken
    from and given back to the client's free list, closed when the client is collected."""
    client = apibricks.Client(api_key=KEY, base_url=url)
    for _ in range(3):
        assert len(client.invoices.list_paid()) == 2
    pipes = list(client._loop._pipes)
    assert len(pipes) == 1  # one call in flight at a time: one pipe, given back each time
    assert not client._loop._abandoned_pipes
    inodes = [os.fstat(end).st_ino for end in pipes[0]]
    client.close()
    del client
    gc.collect()
    for end, inode in zip(pipes[0], inodes, strict=True):
        with contextlib.suppress(OSError):  # closed (else its number went to another file)
            assert os.fstat(end).st_ino != inode, "the pipe was left open"


def test_notebook_calls_from_two_threads_at_once_are_served_together(
    server: sandbox.Sandbox, url: str
) -> None:
    """The first call queued for the idle loop thread makes it the loop's runner at once:
    a second one arriving before it has started is served beside it, not after it."""
    both = threading.Barrier(2)
    with apibricks.Client(base_url=url) as client:

        async def in_a_running_loop(key: str) -> int:
            both.wait(10)
            return len(client.with_api_key(key).invoices.list_paid())

        def call(key: str, into: list[int]) -> None:
            into.append(asyncio.run(in_a_running_loop(key)))

        results: list[int] = []
        threads = [
            threading.Thread(target=call, args=(f"sk_sandbox_{name}~latency300", results))
            for name in ("first", "second")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert results == [2, 2]
    assert server.peak_in_flight == 2


def test_a_call_cancelled_before_its_first_step_still_ends_its_loop_run() -> None:
    """Cancelled before the loop ran a step of it (close() or Ctrl-C can do that), the
    call's task never reaches the code that stops the loop after it: the loop must stop
    anyway, and the call's coroutine be closed rather than left never awaited."""
    loop = asyncio.new_event_loop()
    started = False

    async def call() -> None:
        nonlocal started
        started = True

    try:
        watchdog_fired = threading.Event()

        def watchdog_fires() -> None:
            watchdog_fired.set()
            loop.stop()

        watchdog = loop.call_later(5, watchdog_fires)
        coro = call()
        run = _loop_thread._OneRun(loop, coro)
        run.task.cancel()
        run.to_the_end()
        watchdog.cancel()
        assert not watchdog_fired.is_set(), "the loop ran on after the call ended"
        assert run.task.cancelled()
        assert not started
        assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "coroutine ... was never awaited" would raise
            del coro, run
            gc.collect()
    finally:
        loop.close()


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
async def test_ctrl_c_while_a_notebook_call_waits_cancels_it_and_the_client_goes_on(
    server: sandbox.Sandbox, url: str
) -> None:
    """Ctrl-C interrupts the caller's wait (on the pipe); the call is cancelled on the loop
    thread and unwound before KeyboardInterrupt goes on, and the next call works."""
    with apibricks.Client(base_url=url) as client:
        assert len(client.with_api_key(KEY).invoices.list_paid()) == 2  # the loop thread is up

        def interrupt() -> None:
            server.wait_until(lambda: server.in_flight == 1)
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

        threading.Thread(target=interrupt, daemon=True).start()
        # As in a notebook's kernel (asyncio.Runner's own handler would cancel the test).
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        started = time.monotonic()
        try:
            with pytest.raises(KeyboardInterrupt):
                client.with_api_key("sk_sandbox_slow~latency5000").invoices.list_paid()
        finally:
            signal.signal(signal.SIGINT, previous)
        assert time.monotonic() - started < 4
        assert len(client.with_api_key(KEY).invoices.list_paid()) == 2
        assert not client._loop._abandoned_pipes
