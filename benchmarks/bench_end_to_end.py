"""End-to-end benchmark: ``list_paid()`` of 5,000 invoices from the sandbox over loopback.

The sandbox runs in its own process (``python -m apibricks.sandbox``), so its event loop
and its GIL do not compete with the client's (``--server thread`` runs it on a thread of
this process instead). Contenders, interleaved round by round in one event loop, each
reusing one session/connection pool for the whole run:

* bare aiohttp GET, body read, nothing decoded: the transport floor;
* bare aiohttp GET + ``json.loads``: the baseline the ratio is taken against;
* apibricks ``AsyncClient.invoices.list_paid()``: retries, error mapping, typed models;
* httpx GET + pydantic v2 ``validate_json``: the shape of a typical httpx + pydantic SDK.

Every contender is checked to return the full, correct result before timing.

    python benchmarks/bench_end_to_end.py [--quick] [--invoices N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from _sandbox_process import sandbox_process
from bench_decode import PydanticInvoice
from pydantic import TypeAdapter

import apibricks
from apibricks import sandbox


@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    call: Callable[[], Awaitable[Any]]


async def measure(contenders: Sequence[Contender], rounds: int) -> dict[str, list[float]]:
    """Seconds per call, per contender; round r starts at contender r; 2 warm-up rounds."""
    times: dict[str, list[float]] = {c.key: [] for c in contenders}
    for r in range(-2, rounds):
        shift = r % len(contenders)
        for contender in (*contenders[shift:], *contenders[:shift]):
            gc.collect()  # no garbage left by the previous contender is collected on our time
            start = time.perf_counter()
            result = await contender.call()
            elapsed = time.perf_counter() - start
            del result
            if r >= 0:
                times[contender.key].append(elapsed)
    return times


async def run(base_url: str, invoices: int, rounds: int) -> str:
    key = f"sk_sandbox_bench~n{invoices}"
    url = f"{base_url}/invoices/paid"
    headers = {"Authorization": key}
    expected_body = sandbox.make_invoices_payload(key)
    expected = apibricks.decode_invoices(expected_body)
    adapter = TypeAdapter(list[PydanticInvoice])

    async def aiohttp_bytes() -> bytes:
        async with session.get(url, headers=headers) as response:
            response.raise_for_status()
            return await response.read()

    async def aiohttp_json() -> Any:
        async with session.get(url, headers=headers) as response:
            response.raise_for_status()
            return json.loads(await response.read())

    async def httpx_pydantic() -> Any:
        response = await httpx_client.get(url, headers=headers)
        response.raise_for_status()
        return adapter.validate_json(response.content)

    async with (
        aiohttp.ClientSession() as session,
        httpx.AsyncClient(timeout=30) as httpx_client,
        apibricks.AsyncClient(api_key=key, base_url=base_url) as client,
    ):
        contenders = (
            Contender("aiohttp_bytes", "aiohttp GET, bytes only (transport floor)", aiohttp_bytes),
            Contender("aiohttp_json", "aiohttp GET + `json.loads` (baseline)", aiohttp_json),
            Contender(
                "apibricks", "**apibricks `list_paid()`**", lambda: client.invoices.list_paid()
            ),
            Contender("httpx_pydantic", "httpx GET + pydantic `validate_json`", httpx_pydantic),
        )
        assert await aiohttp_bytes() == expected_body
        assert await aiohttp_json() == json.loads(expected_body)
        assert await client.invoices.list_paid() == expected
        assert len(await httpx_pydantic()) == invoices
        print(f"[end-to-end] timing {rounds} rounds ...", file=sys.stderr, flush=True)
        times = await measure(contenders, rounds)

    medians = {c.key: statistics.median(times[c.key]) for c in contenders}
    baseline = medians["aiohttp_json"]
    lines = [
        "| Contender | ms / call (median) | ms (min) | µs / invoice | vs aiohttp + `json.loads` |",
        "|---|---:|---:|---:|---:|",
    ]
    for c in contenders:
        median = medians[c.key]
        lines.append(
            f"| {c.label} | {median * 1e3:,.1f} | {min(times[c.key]) * 1e3:,.1f} "
            f"| {median * 1e6 / invoices:,.2f} | {median / baseline:.2f}x |"
        )
    lines += [
        "",
        f"apibricks `list_paid()` / bare aiohttp + `json.loads`: "
        f"**{medians['apibricks'] / baseline:.2f}x** "
        f"({(medians['apibricks'] - baseline) * 1e3:+,.1f} ms per call).",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 invoices, 5 rounds (CI)")
    parser.add_argument("--invoices", type=int, help="invoices per response")
    parser.add_argument("--rounds", type=int, help="timed rounds")
    parser.add_argument(
        "--server",
        choices=("process", "thread"),
        default="process",
        help="run the sandbox in a child process (default) or on a thread of this one",
    )
    args = parser.parse_args(argv)
    invoices = args.invoices or (500 if args.quick else 5_000)
    rounds = args.rounds or (5 if args.quick else 30)

    serve = sandbox_process if args.server == "process" else _sandbox_thread
    with serve(invoices) as base_url:
        report = asyncio.run(run(base_url, invoices, rounds))
    body_mb = len(sandbox.make_invoices_payload("sk_sandbox_bench", invoices)) / 1e6
    print(
        f"**`GET /invoices/paid`, {invoices:,} invoices ({body_mb:,.1f} MB) over loopback**, "
        f"sandbox in a separate {args.server}, median of {rounds} interleaved rounds"
    )
    print()
    print(report)
    if args.quick:
        print()
        print("_Smoke run (`--quick`): a small body, few rounds; the ratio is indicative._")
    return 0


def _sandbox_thread(invoices: int) -> contextlib.AbstractContextManager[str]:
    return sandbox.serve_in_thread(invoices_per_org=invoices)


if __name__ == "__main__":
    sys.exit(main())
