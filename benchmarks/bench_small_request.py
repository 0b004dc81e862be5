"""One small request: ``list_paid()`` of one invoice, call after call, against its peers.

The sandbox runs in its own process and answers one invoice with no added latency, so
what is measured is each client's own cost per call on a warm keep-alive connection.
Timed as ``bench_sync_overhead.py`` times it (``_per_call.py``): each round runs every
contender ``--calls`` times back to back, in an order that rotates from round to round
(async ones on one event loop, sync ones on this thread, blocking it); every call is
timed and the table gives the median and the mean of all calls.

    python benchmarks/bench_small_request.py [--quick] [--rounds N] [--calls N] [--before REF]

``--before REF`` adds a sync client whose loop thread is REF's (e.g. ``main``).

Targets (issue 13): apibricks ``AsyncClient`` ≤ 1.15x bare aiohttp (GET + ``json.loads``);
the sync facade adds ≤ 60 µs per call, median (`bench_sync_overhead.py` measures that
alone, the same way, with more calls).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import httpx
import requests
from _openapi_peer import generated_peer
from _per_call import Timings, added, time_rounds
from _sandbox_process import sandbox_process
from bench_sync_overhead import loop_thread_of

import apibricks

KEY = "sk_sandbox_small"
PATH = "/invoices/paid"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds (CI smoke run)")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--calls", type=int)
    parser.add_argument("--before", metavar="REF", help="also time REF's sync loop thread")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 15)
    calls = args.calls or (100 if args.quick else 500)
    with sandbox_process(invoices=1) as url:
        results = asyncio.run(measure(url, rounds, calls, args.before))
    base = results["aiohttp GET + `json.loads`"].median
    print(
        f"Python {sys.version.split()[0]}, {rounds} rounds of {calls} calls per contender, "
        "rotated; every call timed."
    )
    print()
    print("| contender | µs / call (median) | mean | vs aiohttp GET + `json.loads` |")
    print("|---|---:|---:|---:|")
    for label, t in results.items():
        print(f"| {label} | {t.median:,.0f} | {t.mean:,.0f} | {t.median / base:.2f}x |")
    ours = results["**apibricks `AsyncClient.invoices.list_paid()`**"]
    sync = added(results["**apibricks `Client.invoices.list_paid()`**"], ours)
    print()
    print(
        f"- apibricks async / bare aiohttp + json.loads: {ours.median / base:.2f}x "
        "(target ≤ 1.15x)."
    )
    print(f"- sync facade adds {sync.describe()} per call here (target ≤ 60 µs median).")
    if args.before is not None:
        old = added(results[f"apibricks `Client`, {args.before}'s loop thread"], ours)
        print(f"- with {args.before}'s loop thread it adds {old.describe()}.")
    return 0


async def measure(url: str, rounds: int, calls: int, before: str | None) -> dict[str, Timings]:
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
    if before is not None:
        old_client = apibricks.Client(api_key=KEY, base_url=url)
        loop = loop_thread_of(before).LoopThread(old_client, old_client._async.close)
        old_client._loop = old_client.invoices._loop = loop
        contenders[f"apibricks `Client`, {before}'s loop thread"] = old_client.invoices.list_paid
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
        for label, call in contenders.items():  # check every contender works
            result = call()
            result = await result if asyncio.iscoroutine(result) else result
            assert isinstance(result, bytes) or len(result) == 1, label
        return await time_rounds(contenders, rounds, calls)
    finally:
        sync_client.close()
        if before is not None:
            old_client._loop.close()
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
