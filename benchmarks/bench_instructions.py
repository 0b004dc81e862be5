"""CPU instructions per request: the fan-out's cost counted, not timed.

    python benchmarks/bench_instructions.py [--quick] [--requests 600] [--concurrency 50]

Wall-clock ratios on a 2-core machine move by ±10 % with whatever else runs; instruction
counts do not. Each contender runs in a fresh interpreter under ``valgrind --tool=callgrind``
(only this process is counted: the sandbox answers from its own, uncounted, process),
once with a warm-up only and once with the warm-up plus ``--requests`` requests; the
difference divided by the number of requests is what one request costs this process,
start-up and imports excluded. The same contenders as ``bench_fan_out.py``:

* ``aiohttp+sem``: a task per key behind a semaphore, GET + ``json.loads`` (the floor);
* ``fan_out raw``: ``AsyncClient.fan_out`` doing the same GET + ``json.loads``;
* ``fan_out list_paid``: the real thing, decoding into attrs models.

Without valgrind (Debian/Ubuntu: ``apt install valgrind``) it prints a note and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil

from _callgrind import instructions_of
from _fan_out_runners import run_aiohttp, run_fan_out, run_fan_out_raw
from _sandbox_process import sandbox_process

WARM_UP = 100


CONTENDERS = {
    "aiohttp+sem": run_aiohttp,
    "fan_out raw": run_fan_out_raw,
    "fan_out list_paid": run_fan_out,
}


def child(name: str, url: str, requests: int, concurrency: int) -> None:
    """Run in the counted interpreter: a warm-up, then ``requests`` requests."""
    keys = [f"sk_sandbox_bench{i}" for i in range(WARM_UP + requests)]
    run = CONTENDERS[name]
    asyncio.run(run(url, keys[:WARM_UP], concurrency))
    if requests:
        asyncio.run(run(url, keys[WARM_UP:], concurrency))


def count(name: str, url: str, requests: int, concurrency: int) -> int:
    argv = [__file__, "--child", name, "--url", url, "--requests", str(requests)]
    return instructions_of([*argv, "--concurrency", str(concurrency)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, for CI")
    parser.add_argument("--requests", type=int, help="counted requests (600; --quick: 200)")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    requests = args.requests if args.requests is not None else (200 if args.quick else 600)
    if args.child:
        child(args.child, args.url, requests, args.concurrency)
        return
    if shutil.which("valgrind") is None:
        print("valgrind not found: instruction counts skipped (apt install valgrind).")
        return
    print(f"\n### Instructions per request, {requests} requests, concurrency {args.concurrency}\n")
    print("Counted by callgrind in this process only (the sandbox runs in its own).\n")
    print("| contender | instructions / request | vs aiohttp+sem |")
    print("|---|---:|---:|")
    with sandbox_process(invoices=1, latency=0.002) as url:
        per_request = {}
        for name in CONTENDERS:
            base = count(name, url, 0, args.concurrency)
            total = count(name, url, requests, args.concurrency)
            per_request[name] = (total - base) / requests
            floor = per_request["aiohttp+sem"]
            print(f"| {name} | {per_request[name]:,.0f} | {per_request[name] / floor:.2f}x |")


if __name__ == "__main__":
    main()
