"""Sync facade overhead: what ``Client`` adds per call on top of awaiting ``AsyncClient``.

The sandbox runs in its own process (its loop and GIL do not compete with ours) and
answers one invoice, so the request itself is as cheap as it gets and the difference is
the facade: handing the coroutine to the loop thread and waking the caller. Both clients
are measured in the same run, alternating call by call on the same thread (inside an
event loop: the sync call blocks it, which is what sync code in a notebook does), each on
its own warm keep-alive connection. A third pair isolates the hand-off with no I/O at all,
and a bare two-thread ping-pong shows this machine's floor for any thread hand-off.

    python benchmarks/bench_sync_overhead.py [--quick] [--calls N]

Prints markdown; the target is at most 60 µs added per call (reported, never asserted).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import queue
import statistics
import sys
import threading
import time

from _sandbox_process import sandbox_process

import apibricks

KEY = "sk_sandbox_bench~n1"
TARGET_US = 60.0  # issue 13


async def nothing() -> None:
    """A coroutine that does no I/O: timing it measures only how it is run."""


def ping_pong(calls: int) -> list[float]:
    """Microseconds for a token to go to another thread and back: the hand-off floor."""
    there: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    back: queue.SimpleQueue[int | None] = queue.SimpleQueue()

    def echo() -> None:
        while (token := there.get()) is not None:
            back.put(token)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    times = []
    for round_ in range(-100, calls):
        start = time.perf_counter()
        there.put(round_)
        back.get()
        if round_ >= 0:
            times.append((time.perf_counter() - start) * 1e6)
    there.put(None)
    thread.join()
    return times


async def measure(url: str, calls: int) -> dict[str, list[float]]:
    """Microseconds per call for each contender, alternating; 100 warm-up rounds first."""
    times: dict[str, list[float]] = {"async": [], "sync": [], "async-noop": [], "sync-noop": []}
    clock = time.perf_counter
    async with apibricks.AsyncClient(api_key=KEY, base_url=url) as aclient:
        with apibricks.Client(api_key=KEY, base_url=url) as client:
            assert len(await aclient.invoices.list_paid()) == 1
            assert client.invoices.list_paid() == await aclient.invoices.list_paid()
            loop_thread = client._loop  # the private runner, for the no-I/O pair
            gc.disable()
            try:
                for round_ in range(-100, calls):
                    t0 = clock()
                    await aclient.invoices.list_paid()
                    t1 = clock()
                    client.invoices.list_paid()
                    t2 = clock()
                    await nothing()
                    t3 = clock()
                    loop_thread.run(nothing())
                    t4 = clock()
                    if round_ >= 0:
                        times["async"].append((t1 - t0) * 1e6)
                        times["sync"].append((t2 - t1) * 1e6)
                        times["async-noop"].append((t3 - t2) * 1e6)
                        times["sync-noop"].append((t4 - t3) * 1e6)
            finally:
                gc.enable()
    return times


def report(times: dict[str, list[float]], calls: int) -> str:
    def median(key: str) -> float:
        return statistics.median(times[key])

    def p90(key: str) -> float:
        return statistics.quantiles(times[key], n=10)[-1]

    added = median("sync") - median("async")
    paired = statistics.median(s - a for s, a in zip(times["sync"], times["async"], strict=True))
    handoff = median("sync-noop") - median("async-noop")
    verdict = "met" if added <= TARGET_US else "**not met**"
    rows = [
        ("`await AsyncClient.invoices.list_paid()`", "async"),
        ("`Client.invoices.list_paid()`", "sync"),
        ("`await` a coroutine with no I/O", "async-noop"),
        ("the same coroutine through the loop thread", "sync-noop"),
        ("floor: a token to another thread and back", "ping-pong"),
    ]
    lines = [
        f"{calls} calls each, alternating, 1 invoice per response, sandbox in another process.",
        "",
        "| Call | median µs | p90 µs |",
        "|---|---:|---:|",
        *(f"| {label} | {median(key):.1f} | {p90(key):.1f} |" for label, key in rows),
        "",
        f"- **Added by the sync facade: {added:.1f} µs per call** (median of paired "
        f"differences {paired:.1f} µs); target ≤ {TARGET_US:.0f} µs: {verdict}.",
        f"- Loop-thread hand-off alone (no I/O): {handoff:.1f} µs.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run with few calls")
    parser.add_argument("--calls", type=int, help="calls per contender (default 2000)")
    args = parser.parse_args()
    calls = args.calls or (200 if args.quick else 2000)
    with sandbox_process(invoices=1) as url:
        times = asyncio.run(measure(url, calls))
    times["ping-pong"] = ping_pong(calls)
    print(report(times, calls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
