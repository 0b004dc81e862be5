"""One small request: ``list_paid()`` of one invoice, call after call, against its peers.

The sandbox runs in its own process and answers one invoice with no added latency, so
what is measured is each client's own cost per call on a warm keep-alive connection.
Contenders are interleaved round by round (async ones on one event loop, sync ones on
this thread); each round is ``--calls`` sequential calls; the table gives the median per
call over rounds.

    python benchmarks/bench_small_request.py [--quick] [--rounds N] [--calls N]

Targets (issue 13): apibricks ``AsyncClient`` ≤ 1.15x bare aiohttp (GET + ``json.loads``);
the sync facade adds ≤ 60 µs per call (`bench_sync_overhead.py` measures that alone).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import httpx
import requests
from _openapi_peer import generated_peer
from _sandbox_process import sandbox_process

import apibricks

KEY = "sk_sandbox_small"
PATH = "/invoices/paid"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds (CI smoke run)")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--calls", type=int)
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 15)
    calls = args.calls or (100 if args.quick else 500)
    with sandbox_process(invoices=1) as url:
        results = asyncio.run(measure(url, rounds, calls))
    base = results["aiohttp GET + `json.loads`"]
    print(f"Python {sys.version.split()[0]}, {rounds} rounds of {calls} calls, median per call.")
    print()
    print("| contender | µs / call | vs aiohttp GET + `json.loads` |")
    print("|---|---:|---:|")
    for label, value in results.items():
        print(f"| {label} | {value:,.0f} | {value / base:.2f}x |")
    ours = results["**apibricks `AsyncClient.invoices.list_paid()`**"]
    sync = results["**apibricks `Client.invoices.list_paid()`**"]
    print()
    print(f"- apibricks async / bare aiohttp + json.loads: {ours / base:.2f}x (target ≤ 1.15x).")
    print(f"- sync facade adds {sync - ours:,.0f} µs per call here (target ≤ 60 µs).")
    return 0


async def measure(url: str, rounds: int, calls: int) -> dict[str, float]:
    full = url.rstrip("/") + PATH
    headers = {"Authorization": KEY}
    session = aiohttp.ClientSession()
    hx = httpx.AsyncClient()
    hx_sync = httpx.Client()
    rq = requests.Session()
    client = apibricks.AsyncClient(api_key=KEY, base_url=url)
    sync_client = apibricks.Client(api_key=KEY, base_url=url)
    peer = generated_peer()

    async def aiohttp_raw() -> Any:
        async with session.get(full, headers=headers) as response:
            return await response.read()

    async def aiohttp_json() -> Any:
        async with session.get(full, headers=headers) as response:
            return json.loads(await response.read())

    async def httpx_json() -> Any:
        return (await hx.get(full, headers=headers)).json()

    contenders: dict[str, Callable[[], Any]] = {
        "aiohttp GET, body read (floor)": aiohttp_raw,
        "aiohttp GET + `json.loads`": aiohttp_json,
        "**apibricks `AsyncClient.invoices.list_paid()`**": client.invoices.list_paid,
        "httpx.AsyncClient GET + `.json()`": httpx_json,
        "**apibricks `Client.invoices.list_paid()`**": sync_client.invoices.list_paid,
        "requests.Session GET + `.json()`": lambda: rq.get(full, headers=headers).json(),
        "httpx.Client GET + `.json()`": lambda: hx_sync.get(full, headers=headers).json(),
    }
    if peer is not None:
        from importlib import import_module

        endpoint = import_module(f"{peer.__name__}.api.invoices.get_paid_invoices")
        peer_client = peer.AuthenticatedClient(base_url=url, token=KEY, prefix="")
        contenders["openapi-python-client 0.29 `asyncio(client=...)`"] = lambda: endpoint.asyncio(
            client=peer_client
        )
        contenders["openapi-python-client 0.29 `sync(client=...)`"] = lambda: endpoint.sync(
            client=peer_client
        )
    try:
        for label, call in contenders.items():  # warm up and check every contender works
            result = call()
            result = await result if isinstance(result, Awaitable) else result
            assert isinstance(result, bytes) or len(result) == 1, label
        times: dict[str, list[float]] = {label: [] for label in contenders}
        labels = list(contenders)
        for r in range(rounds):
            for label in labels[r % len(labels) :] + labels[: r % len(labels)]:
                call = contenders[label]
                gc.collect()
                is_async = asyncio.iscoroutinefunction(call) or label.startswith(
                    ("**apibricks `Async", "openapi-python-client 0.29 `asyncio")
                )
                start = time.perf_counter()
                if is_async:
                    for _ in range(calls):
                        await call()
                else:
                    for _ in range(calls):
                        call()
                times[label].append((time.perf_counter() - start) / calls * 1e6)
        return {label: statistics.median(values) for label, values in times.items()}
    finally:
        sync_client.close()
        await client.close()
        await session.close()
        await hx.aclose()
        hx_sync.close()  # noqa: ASYNC212 - no I/O left: closes idle sockets
        rq.close()
        if peer is not None:
            await peer_client.get_async_httpx_client().aclose()
            peer_client.get_httpx_client().close()


if __name__ == "__main__":
    sys.exit(main())
