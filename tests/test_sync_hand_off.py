"""How a sync call from inside a running event loop (a notebook cell) reaches the client's
loop (issue 29 item 3): the parked loop thread takes it from a queue, runs it as a script's
caller would (one loop run for the call, no loop turn more) and lets the loop go as it
wakes the caller, so the loop is not running between two calls."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import Iterator

import pytest

import apibricks
from apibricks import sandbox
from apibricks._sync import _loop_thread

KEY = "sk_sandbox_hand_off"


@pytest.fixture
def url() -> Iterator[str]:
    """A sandbox (2 invoices per organization) serving from its own thread."""
    with sandbox.Sandbox(invoices_per_org=2).serve_in_thread() as served:
        yield served


def request_threads() -> tuple[list[str], dict[str, list[object]]]:
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
        watchdog = loop.call_later(5, lambda: (watchdog_fired.set(), loop.stop()))
        coro = call()
        run = _loop_thread._OneRun(loop, coro)
        run.task.cancel()
        run.to_the_end()
        watchdog.cancel()
        assert not watchdog_fired.is_set(), "the loop ran on after the call ended"
        assert run.task.cancelled()
        assert not started
        assert coro.cr_frame is None  # closed
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "coroutine ... was never awaited" would raise
            del coro, run
            gc.collect()
    finally:
        loop.close()
