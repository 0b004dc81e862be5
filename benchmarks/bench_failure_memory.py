"""Peak memory of a fan-out whose every key fails on a body past ``max_response_bytes``.

The server answers every key with a gzip bomb that inflates past the cap, so each call
reads ``cap`` bytes and fails with `ResponseTooLargeError`. A sampler thread reads the
process's resident set (``/proc/self/statm``) every millisecond; the figure is the peak
during the fan-out minus the resident set just before it. Failed calls keep no body
(see ``apibricks/_release.py``), so the peak is bounded by concurrency x (cap + one 1 MiB
inflation step) plus a constant, whether the outcomes are dropped at once or kept; it
does not grow with the number of keys. Each run is a fresh process.

    python benchmarks/bench_failure_memory.py [--keys 100] [--concurrency 8] [--cap-mib 8]
    python benchmarks/bench_failure_memory.py --one --keep ...   # one run, JSON on stdout
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

MIB = 2**20
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class Sampler(threading.Thread):
    """The highest resident set seen while it runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = rss()
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss())
            time.sleep(0.001)

    def stop(self) -> int:
        self.running = False
        self.join()
        return max(self.peak, rss())


async def one_run(keys: int, concurrency: int, cap: int, keep: bool) -> dict[str, Any]:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    import apibricks

    bomb = gzip.compress(b"[" + b" " * (cap + 4 * MIB) + b"]", 9)

    async def handle(_: web.Request) -> web.Response:
        return web.Response(
            body=bomb, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        apibricks.AsyncClient(
            base_url=str(server.make_url("")),
            max_response_bytes=cap,
            max_connections=concurrency,
        ) as client,
    ):

        async def fan_out(count: int) -> list[Any]:
            kept = []
            names = [f"sk_live_memory_{i:06d}_abcdef" for i in range(count)]
            async for outcome in client.fan_out(
                names, lambda org: org.invoices.list_paid(), concurrency=concurrency
            ):
                assert isinstance(outcome.error, apibricks.ResponseTooLargeError)
                if keep:
                    kept.append(outcome)
            return kept

        await fan_out(concurrency)  # warm-up: every path loaded, the pool filled
        gc.collect()
        before = rss()
        sampler = Sampler()
        sampler.start()
        kept = await fan_out(keys)
        peak = sampler.stop()
        after = rss()
    return {
        "keys": keys,
        "concurrency": concurrency,
        "cap_mib": cap / MIB,
        "keep": keep,
        "kept": len(kept),
        "peak_growth_mib": (peak - before) / MIB,
        "held_after_mib": (after - before) / MIB,
        "bound_mib": concurrency * (cap + MIB) / MIB,
    }


def run_child(keys: int, concurrency: int, cap_mib: int, keep: bool) -> dict[str, Any]:
    """One measurement in a fresh interpreter (no arenas left by a previous run)."""
    args = [sys.executable, __file__, "--one", "--keys", str(keys)]
    args += ["--concurrency", str(concurrency), "--cap-mib", str(cap_mib)]
    args += ["--keep"] if keep else []
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(args, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--cap-mib", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="with --one: keep the outcomes")
    parser.add_argument("--one", action="store_true", help="one run in this process, JSON")
    args = parser.parse_args()
    if args.one:
        result = asyncio.run(one_run(args.keys, args.concurrency, args.cap_mib * MIB, args.keep))
        print(json.dumps(result))
        return
    print(f"{'keys':>5} {'conc':>4} {'cap':>5} {'outcomes':>8} {'peak +MiB':>9} {'bound':>6}")
    for keys in (args.keys, 4 * args.keys):
        for keep in (False, True):
            r = run_child(keys, args.concurrency, args.cap_mib, keep)
            print(
                f"{keys:>5} {args.concurrency:>4} {args.cap_mib:>4}M "
                f"{'kept' if keep else 'dropped':>8} {r['peak_growth_mib']:>9.1f} "
                f"{r['bound_mib']:>6.0f}"
            )


if __name__ == "__main__":
    main()
