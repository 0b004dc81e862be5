"""Sync facade overhead: what ``Client`` adds per call on top of awaiting ``AsyncClient``.

The sandbox runs in its own process (its loop and GIL do not compete with ours) and
answers one invoice, so the request itself is as cheap as it gets and the difference is
the facade. Every call is timed, contenders in rotated rounds, medians of all calls
(``_per_call.py``); each client on its own warm keep-alive connection.

Two places a sync call comes from, two tables:

- **A plain thread (a script)**, the case the target is for: ``Client`` runs the call on
  its loop on the calling thread. Beside it: awaits in one loop run per batch (the
  baseline) and ``loop.run_until_complete`` per call, what any design without a hand-off
  costs at least.
- **Inside a running event loop (a notebook cell)**: the call must go to the client's
  loop thread. A no-I/O pair isolates that hand-off, and a bare two-thread ping-pong
  shows this machine's floor for any hand-off; on Linux it also counts how often a
  caller through the loop thread sleeps per call.

``--before REF`` adds a client whose ``_loop_thread.py`` is REF's (e.g. ``main``) to both
tables, for a before/after in one run.

    python benchmarks/bench_sync_overhead.py [--quick] [--rounds N] [--calls N] [--before REF]

Prints markdown; the target is at most 60 µs added per call, median, from a plain thread
(reported, never asserted).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from _per_call import Timings, added, round_order, time_rounds
from _sandbox_process import sandbox_process

import apibricks
from apibricks._sync import _loop_thread

KEY = "sk_sandbox_bench~n1"
TARGET_US = 60.0  # issue 13
ROOT = Path(__file__).resolve().parent.parent
ASYNC, SYNC = "`await AsyncClient.invoices.list_paid()`", "`Client.invoices.list_paid()`"
NOOP, NOOP_SYNC = "`await` a coroutine with no I/O", "the same coroutine through the sync facade"
FLOOR = "floor: a token to another thread and back"
RUN_UNTIL_COMPLETE = "`loop.run_until_complete(aclient.invoices.list_paid())`, this thread"


async def nothing() -> None:
    """A coroutine that does no I/O: timing it measures only how it is run."""


def loop_thread_of(ref: str) -> ModuleType:
    """``apibricks/_sync/_loop_thread.py`` as it is at git ``ref``, imported beside ours."""
    source = subprocess.run(
        ["git", "show", f"{ref}:apibricks/_sync/_loop_thread.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    name = "apibricks._sync._loop_thread_before"
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "apibricks._sync"
    sys.modules[name] = module
    exec(compile(source, f"{ref}:_loop_thread.py", "exec"), module.__dict__)
    return module


def sync_client(url: str, runner: ModuleType) -> apibricks.Client:
    """A sync client whose calls go through ``runner``'s loop thread."""
    client = apibricks.Client(api_key=KEY, base_url=url)
    if runner is not _loop_thread:
        loop = runner.LoopThread(client, client._async.close)
        client._loop = client.invoices._loop = loop
    return client


def ping_pong() -> tuple[Callable[[], None], Callable[[], None]]:
    """A call that sends a token to another thread and waits for it back; and a stop."""
    there: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    back: queue.SimpleQueue[int | None] = queue.SimpleQueue()

    def echo() -> None:
        while (token := there.get()) is not None:
            back.put(token)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()

    def call() -> None:
        there.put(1)
        back.get()

    def stop() -> None:
        there.put(None)
        thread.join()

    return call, stop


def sleeps_per_call(call: Callable[[], Any], calls: int) -> float | None:
    """How often the calling thread blocks (voluntary context switches) per call; Linux."""
    try:
        import resource

        who = resource.RUSAGE_THREAD  # type: ignore[attr-defined,unused-ignore]
    except (ImportError, AttributeError):
        return None
    before = resource.getrusage(who).ru_nvcsw
    for _ in range(calls):
        call()
    return (resource.getrusage(who).ru_nvcsw - before) / calls


async def measure(
    url: str, rounds: int, calls: int, runners: dict[str, ModuleType]
) -> dict[str, Timings]:
    """Per-call timings inside a running loop: async, sync, no-I/O, and the hand-off floor."""
    floor, stop_floor = ping_pong()
    async with apibricks.AsyncClient(api_key=KEY, base_url=url) as aclient:
        clients = {suffix: sync_client(url, runner) for suffix, runner in runners.items()}
        try:
            assert len(await aclient.invoices.list_paid()) == 1
            contenders: dict[str, Callable[[], Any]] = {ASYNC: aclient.invoices.list_paid}
            for suffix, client in clients.items():
                assert client.invoices.list_paid() == await aclient.invoices.list_paid()
                contenders[SYNC + suffix] = client.invoices.list_paid
            contenders[NOOP] = nothing
            for suffix, client in clients.items():
                contenders[NOOP_SYNC + suffix] = lambda run=client._loop.run: run(nothing())
            contenders[FLOOR] = floor
            times = await time_rounds(contenders, rounds, calls)
        finally:
            for client in clients.values():
                client._loop.close()
            stop_floor()
    return times


def caller_sleeps(runner: ModuleType, calls: int = 2000) -> float | None:
    """How often a caller inside a running loop sleeps per no-I/O call through ``runner``."""

    async def close() -> None:
        pass

    async def count() -> float | None:
        return sleeps_per_call(lambda: loop_thread.run(nothing()), calls)

    owner = type("Owner", (), {})()
    loop_thread = runner.LoopThread(owner, close)
    try:
        loop_thread.run(nothing())
        return asyncio.run(count())
    finally:
        loop_thread.close()


def caller_sleeps_with_io(url: str, runner: ModuleType, calls: int = 1000) -> float | None:
    """How often a caller inside a running loop sleeps per ``list_paid()`` through ``runner``."""
    client = sync_client(url, runner)

    async def count() -> float | None:
        client.invoices.list_paid()  # the loop thread is up
        return sleeps_per_call(client.invoices.list_paid, calls)

    try:
        return asyncio.run(count())
    finally:
        client._loop.close()


def table(times: dict[str, Timings]) -> Iterator[str]:
    yield "| Call | median µs | mean µs | p90 µs | CPU µs |"
    yield "|---|---:|---:|---:|---:|"
    for label, t in times.items():
        yield f"| {label} | {t.median:.1f} | {t.mean:.1f} | {t.p90:.1f} | {t.cpu_per_call:.1f} |"
    yield ""


def added_by_sync(times: dict[str, Timings], where: str, target: bool) -> Iterator[str]:
    for label in times:
        if not label.startswith(SYNC):
            continue
        overhead = added(times[label], times[ASYNC])
        which = label.removeprefix(SYNC) or " (this checkout)"
        verdict = ""
        if target:
            met = "met" if overhead.median <= TARGET_US else "**not met**"
            verdict = f"; target ≤ {TARGET_US:.0f} µs median: {met}"
        yield f"- **Added by the sync facade{which}, {where}: {overhead.describe()}**{verdict}."


def report_plain(times: dict[str, Timings], rounds: int, calls: int) -> Iterator[str]:
    yield (
        f"From a plain thread, no running loop (a script): {rounds} rounds of {calls} calls "
        "per contender, rotated; 1 invoice per response, sandbox in another process; "
        "every call timed, medians of all calls. CPU: this process's CPU time per call "
        "(all its threads; the sandbox's is not counted), median over rounds."
    )
    yield ""
    yield from table(times)
    yield from added_by_sync(times, "from a plain thread", target=True)
    if RUN_UNTIL_COMPLETE in times:
        floor = added(times[RUN_UNTIL_COMPLETE], times[ASYNC])
        yield (
            f"- `run_until_complete` per call alone adds {floor.median:.1f} µs "
            f"(CPU {floor.cpu:+.1f} µs)."
        )


def report_in_loop(
    times: dict[str, Timings],
    sleeps: dict[str, tuple[float | None, float | None]],
    rounds: int,
    calls: int,
) -> Iterator[str]:
    yield ""
    yield (
        f"Inside a running event loop (a notebook cell; the sync call blocks that loop): "
        f"{rounds} rounds of {calls} calls, as above."
    )
    yield ""
    yield from table(times)
    yield from added_by_sync(times, "inside a running loop", target=False)
    for label, (count, with_io) in sleeps.items():
        handoff = added(times[label], times[NOOP])
        which = label.removeprefix(NOOP_SYNC) or " (this checkout)"
        slept = ""
        if count is not None and with_io is not None:
            slept = (
                f"; the caller sleeps {count:.2f} times per call ({with_io:.2f} per "
                "`list_paid()`, where one is the wait for the answer)"
            )
        yield (
            f"- Hand-off to the loop thread alone{which}: {handoff.median:.1f} µs "
            f"(CPU {handoff.cpu:+.1f} µs){slept}."
        )


def from_a_plain_thread(
    url: str, rounds: int, calls: int, runners: dict[str, ModuleType]
) -> dict[str, Timings]:
    """Per-call timings on this (loop-less) thread: awaits in one loop run per batch, one
    ``run_until_complete`` per call on the same loop and client, and the sync facade(s)."""
    loop = asyncio.new_event_loop()
    aclient = apibricks.AsyncClient(api_key=KEY, base_url=url)
    clients = {suffix: sync_client(url, runner) for suffix, runner in runners.items()}
    clock, cpu_clock = time.perf_counter, time.process_time

    async def awaits(times: list[float]) -> None:
        for _ in range(calls):
            start = clock()
            await aclient.invoices.list_paid()
            times.append((clock() - start) * 1e6)

    def per_call(call: Callable[[], object]) -> Callable[[list[float]], None]:
        def batch(times: list[float]) -> None:
            for _ in range(calls):
                start = clock()
                call()
                times.append((clock() - start) * 1e6)

        return batch

    batches: dict[str, Callable[[list[float]], None]] = {
        ASYNC: lambda times: loop.run_until_complete(awaits(times)),
        RUN_UNTIL_COMPLETE: per_call(lambda: loop.run_until_complete(aclient.invoices.list_paid())),
    }
    for suffix, client in clients.items():
        batches[SYNC + suffix] = per_call(client.invoices.list_paid)
    try:
        for batch in batches.values():
            batch([])  # warm up
        times: dict[str, list[list[float]]] = {label: [] for label in batches}
        cpu: dict[str, list[float]] = {label: [] for label in batches}
        labels = list(batches)
        for r in range(rounds):
            for label in round_order(labels, r):
                these: list[float] = []
                gc.collect()
                cpu_start = cpu_clock()
                batches[label](these)
                cpu[label].append((cpu_clock() - cpu_start) / calls * 1e6)
                times[label].append(these)
    finally:
        for client in clients.values():
            client._loop.close()
        loop.run_until_complete(aclient.close())
        loop.close()
    return {label: Timings(times[label], cpu[label]) for label in times}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run with few calls")
    parser.add_argument("--rounds", type=int, help="rounds (default 15; quick 3)")
    parser.add_argument("--calls", type=int, help="calls per contender per round (default 200)")
    parser.add_argument("--before", metavar="REF", help="also time REF's loop thread")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 15)
    calls = args.calls or (50 if args.quick else 200)
    runners = {"": _loop_thread}
    if args.before is not None:
        runners[f", {args.before}'s `_loop_thread.py`"] = loop_thread_of(args.before)
    with sandbox_process(invoices=1) as url:
        plain = from_a_plain_thread(url, rounds, calls, runners)
        times = asyncio.run(measure(url, max(3, rounds // 2), calls, runners))
        sleeps = {
            NOOP_SYNC + suffix: (caller_sleeps(runner), caller_sleeps_with_io(url, runner))
            for suffix, runner in runners.items()
        }
    print("\n".join(report_plain(plain, rounds, calls)))
    print("\n".join(report_in_loop(times, sleeps, max(3, rounds // 2), calls)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
