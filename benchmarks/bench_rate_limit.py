"""Fan-out behind a rate limiter that sends no ``Retry-After`` (as nginx ``limit_req`` does).

    python benchmarks/bench_rate_limit.py [--quick] [--rate 50] [--keys 1500] [--repeat 5]

The sandbox runs in its own process (``python -m apibricks.sandbox --rate-limit ...``),
so the client never shares a core or a loop with the server. Targets (issue 19):

* behind a limiter of R requests/s, burst 20: a default fan-out ends with 0 failures in
  at most 1.25x the ideal keys / R (``adaptive=False`` and a hand-tuned ``rate_limit`` run
  beside it for reference);
* no limit: the default (adaptive) fan-out takes at most 1.02x the ``adaptive=False`` run
  (rounds alternate the two; medians);
* a per-key limit (each organization 5 requests/s, burst 1; every operation makes two
  calls, so every key's second call is refused once): adaptive versus not, to show that
  one key's 429 does not slow the others.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from typing import Any

from _sandbox_process import sandbox_process

import apibricks


def sandbox(*flags: str) -> contextlib.AbstractContextManager[str]:
    """The sandbox in its own process, one invoice per organization, with limiter flags."""
    return sandbox_process(1, 0.0, *flags)


async def list_twice(org: apibricks.AsyncClient) -> int:
    return len(await org.invoices.list_paid()) + len(await org.invoices.list_paid())


async def run(url: str, keys: list[str], **options: Any) -> tuple[float, int, int]:
    """Wall time, failures and throttled answers of one fan-out on a fresh client."""
    operation = options.pop("operation", lambda org: org.invoices.list_paid())
    last: list[apibricks.Progress] = []

    def keep(progress: apibricks.Progress) -> None:
        last[:] = [progress]

    async with apibricks.AsyncClient(base_url=url) as client:
        began = time.perf_counter()
        stream = client.fan_out(keys, operation, on_progress=keep, **options)
        failures = 0
        async with contextlib.aclosing(stream) as outcomes:
            async for outcome in outcomes:
                failures += not outcome.ok
        wall = time.perf_counter() - began
    return wall, failures, last[0].throttled if last else 0


def row(name: str, wall: float, failures: int, throttled: int, reference: float) -> str:
    return f"| {name} | {wall:.2f} | {wall / reference:.2f}x | {failures} | {throttled} |"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one round")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--keys", type=int, default=1500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    keys_n = 300 if args.quick else args.keys
    repeat = 1 if args.quick else args.repeat
    rate = args.rate
    keys = [f"sk_sandbox_org{i}" for i in range(keys_n)]
    ideal = keys_n / rate

    print(f"### Behind a limiter: {rate:g} req/s, burst 20, 429 without Retry-After")
    print(f"\n{keys_n} keys, concurrency 32; ideal = keys / R = {ideal:.1f} s\n")
    print("| run | wall (s) | / ideal | failures | 429s |\n|---|---|---|---|---|")
    flags = ("--rate-limit", str(rate), "--burst", "20")
    tuned = {"adaptive": False, "rate_limit": 0.9 * rate}
    runs: list[tuple[str, dict[str, Any]]] = [
        ("default (adaptive)", {}),
        ("adaptive=False", {"adaptive": False}),
        (f"rate_limit={0.9 * rate:g}, adaptive=False (tuned by hand)", tuned),
    ]
    target = ""
    for name, options in runs:
        with sandbox(*flags) as url:  # a fresh limiter (full bucket) for each run
            wall, failures, throttled = await run(url, keys, **options)
        print(row(name, wall, failures, throttled, ideal))
        if name.startswith("default"):
            verdict = "PASS" if failures == 0 and wall <= 1.25 * ideal else "MISS"
            target = f"0 failures, <= 1.25x ideal: {verdict}"

    unlimited_keys = [f"sk_sandbox_org{i}" for i in range(4 * keys_n)]
    walls: dict[bool, list[float]] = {True: [], False: []}
    with sandbox() as url:
        await run(url, unlimited_keys[:200])  # warm-up
        for round_ in range(repeat):
            for adaptive in (True, False) if round_ % 2 == 0 else (False, True):
                wall, failures, throttled = await run(url, unlimited_keys, adaptive=adaptive)
                assert failures == 0 and throttled == 0
                walls[adaptive].append(wall)
    on, off = statistics.median(walls[True]), statistics.median(walls[False])
    print(f"\n### No limit: {len(unlimited_keys)} keys, median of {repeat} alternating rounds\n")
    print(f"| run | wall (s) |\n|---|---|\n| adaptive=False | {off:.3f} |")
    print(f"| default (adaptive) | {on:.3f} ({on / off:.3f}x) |")
    unlimited = "PASS" if on <= 1.02 * off else "MISS"

    print("\n### Per-key limit: 5 req/s per key, burst 1; two calls per key, no global limit\n")
    print("| run | wall (s) | / adaptive=False | failures | 429s |\n|---|---|---|---|---|")
    results = {}
    for adaptive in (False, True):
        with sandbox("--per-key-rate-limit", "5", "--burst", "1") as url:
            results[adaptive] = await run(
                url, keys[: keys_n // 3], operation=list_twice, adaptive=adaptive
            )
    for adaptive in (False, True):
        name = "default (adaptive)" if adaptive else "adaptive=False"
        print(row(name, *results[adaptive], results[False][0]))

    print(f"\nTargets: limiter {target}; no limit <= 1.02x: {unlimited} ({on / off:.3f}x)")


if __name__ == "__main__":
    asyncio.run(main())
