"""Fan-out wall time and memory: ``AsyncClient.fan_out`` against hand-written loops.

    python benchmarks/bench_fan_out.py [--quick] [--keys 10000] [--latency 0.02] [--repeat 5]
        [--concurrency 50 200] [--before REF] [--no-httpx] [--no-rss]

Issue 13's targets: ``fan_out list_paid`` ≤ 1.10x aiohttp+sem's wall time at concurrency
200 and ≤ 1.05x at 50 (10,000 keys, one invoice each, 20 ms server latency).

Fairness on a small (2-core) machine: the sandbox runs in its own *process* (its own core,
its own GIL), and every contender runs in this process on the same loop, against the same
server, same keys, same concurrency, each with a fresh connection pool sized to the
concurrency. Rounds rotate the contenders' order and the median is reported, so warm-up
and drift hit all of them alike. Contenders:

* ``aiohttp+sem``: one aiohttp session, a task per key behind an ``asyncio.Semaphore``,
  ``json.loads`` of the body (no models): the floor any aiohttp-based SDK pays.
* ``httpx+sem``: the same loop on ``httpx.AsyncClient`` (skipped if httpx is missing).
* ``fan_out raw``: ``fan_out`` with an operation that only GETs and ``json.loads``: the
  engine plus the SDK transport (retries, timeouts, error mapping), no decoding.
* ``fan_out list_paid``: the real thing, decoding into attrs models.

``--before REF`` adds ``fan_out raw`` and ``fan_out list_paid`` of apibricks as it is at git
``REF`` (imported beside this one), to the same rotated rounds: a before/after in one run.

Peak RSS runs each size in a fresh subprocess (``VmHWM``), keys from a generator.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import aiohttp
from _fan_out_runners import (
    Runner,
    run_aiohttp,
    run_fan_out,
    run_fan_out_raw,
    run_httpx,
    runners_at,
)
from _sandbox_process import sandbox_process

import apibricks


def contenders() -> dict[str, Runner]:
    found: dict[str, Runner] = {"aiohttp+sem": run_aiohttp}
    try:
        import httpx  # noqa: F401
    except ImportError:
        print("httpx is not installed: skipping the httpx contender (pip install httpx)")
    else:
        if not ARGS.no_httpx:
            found["httpx+sem"] = run_httpx
    found["fan_out raw"] = run_fan_out_raw
    found["fan_out list_paid"] = run_fan_out
    if ARGS.before:
        found.update(runners_at(ARGS.before))
    return found


async def measure(url: str, n_keys: int, concurrencies: list[int], repeat: int) -> None:
    keys = [f"sk_sandbox_bench{i}" for i in range(n_keys)]
    runners = contenders()
    latency = ARGS.latency
    print(f"\n### Wall time, {n_keys} organizations, {latency * 1000:g} ms server latency\n")
    print(
        f"Median of {repeat} rounds in rotated order (httpx: 1 round, it takes seconds); "
        "client CPU is this process's CPU time. Ratios are against aiohttp+sem.\n"
    )
    print("| concurrency | contender | wall | ratio | client CPU | ratio |")
    print("|---:|---|---:|---:|---:|---:|")
    for concurrency in concurrencies:
        for name, runner in runners.items():  # warm-up: server caches, converter, sockets
            if not name.startswith("httpx"):  # seconds for httpx, and it is far behind anyway
                await runner(url, keys[: concurrency * 2], concurrency)
        wall: dict[str, list[float]] = {name: [] for name in runners}
        cpu: dict[str, list[float]] = {name: [] for name in runners}
        names = list(runners)
        for round_ in range(repeat):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                if name.startswith("httpx") and wall[name]:
                    continue
                gc.collect()
                if ARGS.gc_off:  # what the cyclic GC costs each contender (not for users)
                    gc.disable()
                started, cpu_started = time.perf_counter(), time.process_time()
                try:
                    await runners[name](url, keys, concurrency)
                finally:
                    gc.enable()
                wall[name].append(time.perf_counter() - started)
                cpu[name].append(time.process_time() - cpu_started)
        base_wall = statistics.median(wall["aiohttp+sem"])
        base_cpu = statistics.median(cpu["aiohttp+sem"])
        ideal = n_keys / concurrency * latency
        print(f"| {concurrency} | ideal (keys / concurrency * latency) | {ideal * 1000:.0f} ms |||")
        for name in names:
            w, c = statistics.median(wall[name]), statistics.median(cpu[name])
            print(
                f"| {concurrency} | {name} | {w * 1000:.0f} ms | {w / base_wall:.2f} "
                f"| {c * 1000:.0f} ms | {c / base_cpu:.2f} |"
            )


def peak_rss_kib() -> int:
    """This process's peak RSS. ``VmHWM`` starts afresh at exec; Linux's ``ru_maxrss`` of a
    child can carry its parent's peak, which would hide any growth."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_child(url: str, n_keys: int, concurrency: int) -> None:
    """In a fresh process: peak RSS after a warm-up, then after ``n_keys`` from a generator."""

    def keys() -> Iterator[str]:
        for i in range(n_keys):
            yield f"sk_sandbox_rss{i % 5000}"

    async def main() -> tuple[int, int]:
        async with apibricks.AsyncClient(base_url=url, max_connections=concurrency) as client:
            warm = [f"sk_sandbox_warm{i}" for i in range(concurrency * 2)]
            async for outcome in client.fan_out(warm, lambda o: o.invoices.list_paid()):
                outcome.unwrap()
            before = peak_rss_kib()
            stream = client.fan_out(keys(), lambda o: o.invoices.list_paid(), concurrency=50)
            async for outcome in stream:
                outcome.unwrap()
            return before, peak_rss_kib()

    before, after = asyncio.run(main())
    print(json.dumps({"before_kib": before, "after_kib": after}))


def measure_rss(url: str, sizes: list[int]) -> None:
    print("\n### Peak RSS of a fan-out (fresh process each, concurrency 50, keys from a generator)")
    print("\n| keys | RSS after warm-up | peak RSS after the run | growth |")
    print("|---:|---:|---:|---:|")
    for n in sizes:
        found = subprocess.run(
            [sys.executable, __file__, "--rss-child", str(n), "--url", url],
            capture_output=True,
            text=True,
            check=True,
        )
        data = json.loads(found.stdout.strip().splitlines()[-1])
        before, after = data["before_kib"] / 1024, data["after_kib"] / 1024
        print(f"| {n:,} | {before:.1f} MiB | {after:.1f} MiB | {after - before:+.1f} MiB |")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds, for CI")
    parser.add_argument("--keys", type=int, help="organizations (10,000; --quick: 500)")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds (server side)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--before", metavar="REF", help="also time apibricks at git REF")
    parser.add_argument("--no-httpx", action="store_true", help="leave httpx out")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak RSS runs")
    parser.add_argument("--gc-off", action="store_true", help="the cyclic GC off while timed")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    return parser.parse_args()


ARGS = parse_args()

if __name__ == "__main__":
    if ARGS.rss_child:
        rss_child(ARGS.url, ARGS.rss_child, 50)
        sys.exit(0)
    repeat = 3 if ARGS.quick else ARGS.repeat
    n_keys = ARGS.keys or (500 if ARGS.quick else 10_000)
    with sandbox_process(invoices=1, latency=ARGS.latency) as base_url:
        print(
            f"Python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}, {os.cpu_count()} CPUs"
        )
        asyncio.run(measure(base_url, n_keys, ARGS.concurrency, repeat))
        if not ARGS.no_rss:
            measure_rss(base_url, [1_000] if ARGS.quick else [1_000, 10_000])
