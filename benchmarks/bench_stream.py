"""Streamed decoding (`iter_paid`) against `list_paid()` and ijson, on the same bodies.

Two parts, every contender measured side by side in one run:

1. **Decode** (no network): one organization's body (``--invoices``, and 10x that), fed
   in 256 KiB chunks. ``list_paid`` decodes the whole body at once (`decode_invoices`);
   ``iter_paid`` feeds the chunks to `InvoiceStream` as `iter_paid` does; ijson (its C
   backend, ``yajl2_c``) yields dicts, which cattrs' converter then structures, the
   fairest per-item peer. Time per invoice, time to the first invoice.
2. **Memory** (loopback, each contender in a fresh child process): the sandbox serves a
   body of ``--big`` invoices made on the fly (``sk_sandbox_<org>~big<N>``, chunked);
   ``iter_paid`` drops each invoice as it comes, ``list_paid`` holds them all (skipped
   above 100,000 invoices: it would need gigabytes). Peak RSS (``VmHWM``) and the
   wall time per invoice.

    python benchmarks/bench_stream.py [--quick] [--invoices N] [--big N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHUNK = 256 * 1024


def _body(invoices: int) -> bytes:
    from apibricks.sandbox._data import streamed_invoices_payload

    return b"".join(streamed_invoices_payload("bench-stream", invoices))


def _whole(body: bytes) -> tuple[int, float]:
    from apibricks._converter import decode_invoices

    started = time.perf_counter()
    invoices = decode_invoices(body)
    return len(invoices), time.perf_counter() - started


def _streamed(body: bytes) -> tuple[int, float]:
    from apibricks._invoice_stream import InvoiceStream

    started = time.perf_counter()
    first = 0.0
    count = 0
    stream = InvoiceStream()
    for position in range(0, len(body), CHUNK):
        invoices = stream.feed(body[position : position + CHUNK])
        if invoices and not first:
            first = time.perf_counter() - started
        count += len(invoices)
    count += len(stream.finish())
    return count, first


def _ijson(body: bytes) -> tuple[int, float]:
    import io

    import ijson

    from apibricks import Invoice
    from apibricks._converter import converter

    started = time.perf_counter()
    first = 0.0
    count = 0
    for item in ijson.items(io.BytesIO(body), "item", use_float=True):
        converter.structure(item, Invoice)
        if not first:
            first = time.perf_counter() - started
        count += 1
    return count, first


CONTENDERS: dict[str, Callable[[bytes], tuple[int, float]]] = {
    "list_paid (whole body)": _whole,
    "iter_paid (streamed)": _streamed,
    "ijson (yajl2_c) + cattrs": _ijson,
}


def decode_table(sizes: Sequence[int], rounds: int) -> list[str]:
    lines = [
        "| invoices | contender | µs / invoice | ratio to list_paid | first invoice after |",
        "|---:|---|---:|---:|---:|",
    ]
    for size in sizes:
        body = _body(size)
        times: dict[str, list[float]] = {name: [] for name in CONTENDERS}
        firsts: dict[str, list[float]] = {name: [] for name in CONTENDERS}
        for _ in range(rounds):  # interleaved: a noisy moment hits every contender alike
            for name, run in CONTENDERS.items():
                started = time.perf_counter()
                count, first = run(body)
                times[name].append(time.perf_counter() - started)
                firsts[name].append(first)
                assert count == size, (name, count, size)
        base = statistics.median(times["list_paid (whole body)"])
        for name in CONTENDERS:
            spent = statistics.median(times[name])
            first = statistics.median(firsts[name])
            lines.append(
                f"| {size:,} | {name} | {spent / size * 1e6:.2f} | {spent / base:.2f}x "
                f"| {first * 1000:.1f} ms |"
            )
    return lines


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def _fetch(mode: str, url: str, key: str) -> int:
    import apibricks

    async with apibricks.AsyncClient(
        api_key=key, base_url=url, max_response_bytes=None, timeout=60
    ) as client:
        if mode == "list_paid":
            return len(await client.invoices.list_paid())
        count = 0
        async for _ in client.invoices.iter_paid():
            count += 1
        return count


def child(mode: str, url: str, key: str) -> None:
    """In a fresh process: fetch, then print the count, the wall time and the peak RSS."""
    started = time.perf_counter()
    count = asyncio.run(_fetch(mode, url, key))
    wall = time.perf_counter() - started
    print(json.dumps({"count": count, "wall": wall, "peak_mb": _peak_rss_mb()}))


def memory_table(big: int) -> list[str]:
    from apibricks import sandbox

    lines = [
        "| invoices (body) | contender | peak RSS | µs / invoice (wall, loopback) |",
        "|---:|---|---:|---:|",
    ]
    sizes = [(min(big, 100_000), ("iter_paid", "list_paid")), (big, ("iter_paid",))]
    if big <= 100_000:
        sizes = sizes[:1]
    with sandbox.serve_in_thread() as url:
        for size, modes in sizes:
            key = f"sk_sandbox_bench-stream~big{size}"
            for mode in modes:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", mode, url, key],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                )
                result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
                assert result["count"] == size, (mode, result, size)
                megabytes = size * 2.06 / 1000
                lines.append(
                    f"| {size:,} (~{megabytes:,.0f} MB) | {mode} | {result['peak_mb']:.0f} MB "
                    f"| {result['wall'] / size * 1e6:.2f} |"
                )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI")
    parser.add_argument("--invoices", type=int, default=None)
    parser.add_argument("--big", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "URL", "KEY"))
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    invoices = args.invoices or (1_000 if args.quick else 10_000)
    big = args.big or (20_000 if args.quick else 1_000_000)
    rounds = args.rounds or (1 if args.quick else 5)
    sizes = [invoices] if args.quick else [invoices, invoices * 10]
    print("### Streamed decode (no network, 256 KiB chunks)\n")
    print("\n".join(decode_table(sizes, rounds)))
    print("\n### Peak memory over loopback (sandbox `~big<N>`, one child process each)\n")
    print("\n".join(memory_table(big)))


if __name__ == "__main__":
    main()
