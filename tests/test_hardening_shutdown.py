"""Cancellation and shutdown at random points: nothing hangs, leaks, or warns.

Each scenario runs 30 seeds in a fresh ``python -X dev -W error`` process (asyncio debug
mode; every warning, ResourceWarning included, an error) against an in-process sandbox
whose answers are delayed and sometimes faulty, so the interruption lands anywhere: before
the connection, while connecting, waiting for headers, reading the body, in a retry's
backoff, while decoding. After every seed the script asserts that no task is left but its
own and that the client still works (or, once closed, refuses politely); at the end the
parent asserts a clean exit and a stderr free of "Unclosed", "Task was destroyed",
"never awaited", "Exception ignored" and "Traceback".

Decided semantics for ``close()`` while calls are in flight (clients without a timeout, so
that only close() can end them): each of them ends promptly
with its value (if it was already complete) or an `APIBricksError` (a connection error, or
"client is closed" for a retry that comes after the close); nothing hangs, nothing
escapes as a raw aiohttp/asyncio exception. A fan-out still yields exactly one outcome per
key, each a value or an `APIBricksError`.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import apibricks

SEEDS = 30
SYMPTOMS = (
    "Unclosed",
    "Task was destroyed",
    "never awaited",
    "Exception ignored",
    "Traceback",
    "Warning",
)

SCRIPT = textwrap.dedent(
    r'''
    import asyncio, collections, gc, json, random, sys, threading
    import apibricks, apibricks._retry
    from apibricks import sandbox

    apibricks._retry.BACKOFF_BASE = 0.005
    # The sandbox (another thread) logs "Error handling request" with a traceback when a
    # client goes away mid-answer, which is the point here: only the client is under test.
    import logging
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    SCENARIO, SEEDS = sys.argv[1], int(sys.argv[2])
    TALLY = collections.Counter()
    # Delays and faults on the way: connect, headers, a cut body, a retry's backoff, decoding.
    SUFFIXES = ["", "~latency3", "~latency15", "~503x1", "~resetx1", "~truncatex1",
                "~429r0.01x1", "~n400", "~latency8~500x1", "~latency40"]

    def key(seed, i):
        return f"sk_sandbox_s{seed}k{i}" + SUFFIXES[(seed + i) % len(SUFFIXES)]

    async def interrupt_point(rng):
        """Wait a random number of loop iterations, or a random time on the loop clock."""
        if rng.random() < 0.5:
            for _ in range(rng.randrange(0, 60)):
                await asyncio.sleep(0)
        else:
            await asyncio.sleep(rng.uniform(0, 0.03))

    def others():
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    async def settle():
        """Loop iterations until no other task is left (a condition, bounded)."""
        for _ in range(200):
            if not others():
                return
            await asyncio.sleep(0)
        raise AssertionError(f"tasks left behind: {others()}")

    def typed(result):
        if isinstance(result, BaseException) and not isinstance(
            result, (apibricks.APIBricksError, asyncio.CancelledError)
        ):
            raise AssertionError(f"untyped failure: {result!r}") from result

    async def cancel_list_paid(url, server, seed, rng):
        async with apibricks.AsyncClient(base_url=url, timeout=2) as client:
            org = client.with_api_key(key(seed, 0))
            task = asyncio.create_task(org.invoices.list_paid())
            await interrupt_point(rng)
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=5)
            assert task in done, "list_paid ignored its cancellation"
            TALLY["cancelled" if task.cancelled() else "finished first"] += 1
            if not task.cancelled():
                typed(task.exception())
            # The client survives a cancelled call.
            assert await client.with_api_key(f"sk_sandbox_after{seed}").invoices.list_paid()
        await settle()

    async def cancel_fan_out(url, server, seed, rng):
        keys = [key(seed, i) for i in range(40)]
        seen = []
        async with apibricks.AsyncClient(base_url=url, timeout=2) as client:
            async def consume():
                async for outcome in client.fan_out(
                    keys, lambda org: org.invoices.list_paid(), concurrency=8
                ):
                    seen.append(outcome)
                    typed(outcome.error)
            task = asyncio.create_task(consume())
            await interrupt_point(rng)
            await asyncio.sleep(rng.uniform(0, 0.05))
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=5)
            assert task in done, "fan_out ignored its cancellation"
            TALLY["cancelled" if task.cancelled() else "finished first"] += 1
            TALLY["outcomes before cancel"] += len(seen)
            assert len({o.index for o in seen}) == len(seen), "an index was yielded twice"
            await settle()  # the fan-out's own tasks are gone too
            assert await client.with_api_key(f"sk_sandbox_after{seed}").invoices.list_paid()
        await settle()

    async def close_mid_flight(url, server, seed, rng):
        # No timeout: only close() itself may end what is in flight.
        client = apibricks.AsyncClient(base_url=url, timeout=None, max_connections=4)
        tasks = [
            asyncio.create_task(client.with_api_key(key(seed, i)).invoices.list_paid())
            for i in range(8)  # more than the pool: some wait for a connection
        ]
        await interrupt_point(rng)
        await client.close()
        done, pending = await asyncio.wait(tasks, timeout=5)
        assert not pending, f"{len(pending)} calls hang after close()"
        results = [task.exception() or task.result() for task in tasks]  # all retrieved
        for result in results:
            TALLY[type(result).__name__ if isinstance(result, BaseException) else "value"] += 1
        for result in results:
            typed(result)
        try:
            await client.with_api_key("sk_sandbox_late").invoices.list_paid()
        except apibricks.APIBricksError:
            TALLY["refused after close"] += 1
        else:
            raise AssertionError("a closed client still sent a request")
        await settle()

    async def close_during_fan_out(url, server, seed, rng):
        keys = [key(seed, i) for i in range(30)]
        client = apibricks.AsyncClient(base_url=url, timeout=None)  # close() must end it all
        outcomes = []
        async def consume():
            async for outcome in client.fan_out(
                keys, lambda org: org.invoices.list_paid(), concurrency=6
            ):
                outcomes.append(outcome)
        task = asyncio.create_task(consume())
        await interrupt_point(rng)
        await client.close()
        done, _ = await asyncio.wait([task], timeout=5)
        assert task in done, "fan_out hangs after close()"
        typed(task.exception())
        assert sorted(o.index for o in outcomes) == list(range(len(keys))), (
            "not exactly one outcome per key after close()"
        )
        for outcome in outcomes:
            typed(outcome.error)
            TALLY["ok" if outcome.ok else type(outcome.error).__name__] += 1
        await settle()

    def sync_close_from_another_thread(url, seed, rng):
        client = apibricks.Client(base_url=url, timeout=None)
        results = [None] * 4
        def call(i):
            try:
                results[i] = client.with_api_key(key(seed, i)).invoices.list_paid()
            except BaseException as exc:
                results[i] = exc
        threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        threading.Event().wait(rng.uniform(0, 0.03))  # a random point, on purpose
        client.close()
        for thread in threads:
            thread.join(5)
            assert not thread.is_alive(), "a sync call hangs after close()"
        for result in results:
            assert result is not None
            TALLY[type(result).__name__ if isinstance(result, BaseException) else "value"] += 1
        for result in results:
            typed(result)

    async def main():
        server = sandbox.Sandbox(invoices_per_org=3)
        # On its own thread and loop: every task on this loop is the client's.
        with server.serve_in_thread() as url:
            for seed in range(SEEDS):
                rng = random.Random(seed)
                if SCENARIO == "sync_close":
                    await asyncio.to_thread(sync_close_from_another_thread, url, seed, rng)
                else:
                    await globals()[SCENARIO](url, server, seed, rng)
            await settle()
        TALLY["server requests"] = server.total_requests

    asyncio.run(main())
    gc.collect()
    leftover = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    assert not leftover, f"threads left behind: {leftover}"
    print(json.dumps(TALLY))
    '''
)


def run_scenario(name: str) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", SCRIPT, name, str(SEEDS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for symptom in SYMPTOMS:
        assert symptom not in result.stderr, result.stderr[-3000:]
    tally: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return tally


def test_cancel_list_paid_at_random_points() -> None:
    tally = run_scenario("cancel_list_paid")
    assert tally["cancelled"] + tally.get("finished first", 0) == SEEDS
    assert tally["cancelled"] >= SEEDS // 2, tally  # the interruptions really hit in flight


def test_cancel_fan_out_at_random_points() -> None:
    tally = run_scenario("cancel_fan_out")
    assert tally["cancelled"] + tally.get("finished first", 0) == SEEDS
    assert tally["cancelled"] >= SEEDS // 2, tally
    assert tally["outcomes before cancel"] > 0, tally  # some cancels came mid-stream


def test_close_with_calls_in_flight() -> None:
    tally = run_scenario("close_mid_flight")
    assert tally["refused after close"] == SEEDS
    ended = sum(
        n for name, n in tally.items() if name not in ("refused after close", "server requests")
    )
    assert ended == SEEDS * 8, tally  # every call ended, with a value or a typed error
    assert tally.get("value", 0) < SEEDS * 8, tally  # some close() really came mid-flight


def test_close_during_fan_out() -> None:
    tally = run_scenario("close_during_fan_out")
    assert sum(n for name, n in tally.items() if name != "server requests") == SEEDS * 30
    # OperationError means "the caller's operation raised something foreign": here the
    # operation is the SDK's own list_paid, so that would be the SDK leaking an exception.
    assert "OperationError" not in tally, tally


def test_sync_close_from_another_thread() -> None:
    tally = run_scenario("sync_close")
    assert sum(n for key, n in tally.items() if key != "server requests") == SEEDS * 4


# --- the same two failure modes, deterministic ----------------------------------------------


class Stalling:
    """A server whose answers stall, at a chosen point, until released."""

    def __init__(self) -> None:
        self.in_body = asyncio.Event()  # headers and part of the body sent
        self.received = 0
        self.release = asyncio.Event()

    async def body_then_stall(self, request: web.Request) -> web.StreamResponse:
        self.received += 1
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 100
        await response.prepare(request)
        await response.write(b"[")
        self.in_body.set()
        await self.release.wait()
        return response

    async def stall_then_answer(self, request: web.Request) -> web.Response:
        self.received += 1
        await self.release.wait()
        return web.json_response([])


@pytest.fixture
async def stalling() -> AsyncIterator[tuple[Stalling, str]]:
    server = Stalling()
    app = web.Application()
    app.router.add_get("/body/invoices/paid", server.body_then_stall)
    app.router.add_get("/headers/invoices/paid", server.stall_then_answer)
    async with TestServer(app, host="127.0.0.1") as test_server:
        yield server, str(test_server.make_url(""))
        server.release.set()


def queued_for_a_connection(client: apibricks.AsyncClient) -> int:
    """Requests waiting for a free connection in the client's pool (aiohttp internals)."""
    session = client._transport._session
    assert session is not None
    connector: Any = session.connector
    return sum(len(waiters) for waiters in connector._waiters.values())


async def ended(task: asyncio.Task[Any]) -> BaseException | None:
    done, _ = await asyncio.wait([task], timeout=5)
    assert task in done, "the call hangs after close()"
    assert not task.cancelled(), "close() surfaced as CancelledError: nobody cancelled this task"
    return task.exception()


async def test_close_while_a_body_is_read_ends_the_call_with_a_typed_error(
    stalling: tuple[Stalling, str],
) -> None:
    """Headers in, body half read, then close(): a typed error. (The random scenarios above
    also hit the moment between two body chunks, where aiohttp raises a bare
    ``RuntimeError("Connection closed.")`` that the transport does not map.)"""
    server, url = stalling
    client = apibricks.AsyncClient(api_key="sk_test_abcdef", base_url=url + "/body")
    task = asyncio.create_task(client.invoices.list_paid())
    await server.in_body.wait()
    await client.close()
    assert isinstance(await ended(task), apibricks.APIBricksError)


async def test_close_while_waiting_for_a_pool_connection_is_not_a_cancellation(
    stalling: tuple[Stalling, str],
) -> None:
    """Closing the connector cancels the futures of requests queued for a connection: the
    call raises CancelledError, which callers (TaskGroup, timeouts, fan_out) read as their
    own task being cancelled."""
    server, url = stalling
    client = apibricks.AsyncClient(
        api_key="sk_test_abcdef", base_url=url + "/headers", max_connections=1
    )
    first = asyncio.create_task(client.invoices.list_paid())
    second = asyncio.create_task(client.invoices.list_paid())
    while server.received < 1 or queued_for_a_connection(client) < 1:  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    await client.close()
    for task in (first, second):
        assert isinstance(await ended(task), apibricks.APIBricksError)


async def test_an_injected_session_closed_by_its_owner_mid_flight(
    stalling: tuple[Stalling, str],
) -> None:
    """The caller's own session, closed under an in-flight call: a typed error as well."""
    server, url = stalling
    session = aiohttp.ClientSession()
    client = apibricks.AsyncClient(
        api_key="sk_test_abcdef", base_url=url + "/body", session=session
    )
    task = asyncio.create_task(client.invoices.list_paid())
    await server.in_body.wait()
    await session.close()
    assert isinstance(await ended(task), apibricks.APIBricksError)
    await client.close()
