"""Bodies a hostile server sends: gzip bombs, endless streams, huge error pages, stalls.

Each server notes when the client hung up, so the tests can tell "refused while
streaming" from "read everything, then complained".
"""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import apibricks
from apibricks import _retry

KEY = "sk_test_bodies_0123456789"
MiB = 2**20
CAP = 1 * MiB
ZEROS = bytes(MiB)


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "BACKOFF_BASE", 0.001)


class Hostile:
    def __init__(self) -> None:
        self.hits = 0
        self.sent = 0  # body bytes written before the client hung up
        self.hung_up = asyncio.Event()
        self.server: TestServer | None = None

    def url(self, path: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(path))

    async def wait_hang_up(self) -> None:
        await asyncio.wait_for(self.hung_up.wait(), 10)


async def stream_forever(
    state: Hostile, request: web.Request, response: web.StreamResponse, piece: Any
) -> web.StreamResponse:
    await response.prepare(request)
    try:
        for _ in range(100_000):  # bounded, so a broken client cannot hang the test
            data = piece()
            await response.write(data)
            state.sent += len(data)
    except ConnectionError:
        state.hung_up.set()
    except asyncio.CancelledError:  # aiohttp cancels a handler whose client went away
        state.hung_up.set()
        raise
    return response


@pytest.fixture
async def hostile() -> AsyncIterator[Hostile]:
    state = Hostile()

    def bomb_piece() -> bytes:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        # 50 MiB of zeros in ~50 KB: one gzip member per write, forever
        return compressor.compress(ZEROS * 50) + compressor.flush()

    member = bomb_piece()

    async def handle(request: web.Request) -> web.StreamResponse:
        state.hits += 1
        kind = request.path.strip("/").split("/")[0]
        status = 500 if kind.startswith("error") else 200
        if kind in ("bomb", "errorbomb"):
            response = web.StreamResponse(status=status, headers={"Content-Encoding": "gzip"})
            response.content_type = "application/json"
            return await stream_forever(state, request, response, lambda: member)
        if kind in ("endless", "errorendless"):
            response = web.StreamResponse(status=status)
            response.content_type = "application/json"
            response.enable_chunked_encoding()
            return await stream_forever(state, request, response, lambda: b"[" + b" " * 65535)
        if kind == "declared":  # honest Content-Length above the cap: refused unread
            return web.Response(
                body=b"[" + b" " * (2 * CAP) + b"]", content_type="application/json"
            )
        if kind == "small":
            body = gzip.compress(b"[]")
            return web.Response(
                body=body, headers={"Content-Encoding": "gzip"}, content_type="application/json"
            )
        if kind == "stall":  # drip-feeds a valid body slower than any timeout
            response = web.StreamResponse()
            response.content_type = "application/json"
            await response.prepare(request)
            await response.write(b"[")
            for _ in range(200):
                await asyncio.sleep(0.05)
                await response.write(b" ")
            await response.write(b"]")
            return response
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    async with TestServer(app, host="127.0.0.1") as server:
        state.server = server
        yield state


async def test_a_gzip_bomb_is_refused_while_streaming(facade: Any, hostile: Hostile) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(apibricks.ResponseTooLargeError, match="max_response_bytes"):
            await facade(
                lambda c: c.invoices.list_paid(),
                api_key=KEY,
                base_url=hostile.url("/bomb"),
                max_response_bytes=CAP,
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    await hostile.wait_hang_up()
    assert hostile.hits == 1, "ResponseTooLargeError is never retried"
    assert peak < 8 * CAP, f"memory held while inflating: {peak:,} bytes"


async def test_an_endless_chunked_body_is_refused(facade: Any, hostile: Hostile) -> None:
    with pytest.raises(apibricks.ResponseTooLargeError):
        await facade(
            lambda c: c.invoices.list_paid(),
            api_key=KEY,
            base_url=hostile.url("/endless"),
            max_response_bytes=CAP,
        )
    await hostile.wait_hang_up()
    assert hostile.hits == 1
    assert hostile.sent < 100_000 * 65536


async def test_the_default_cap_applies(hostile: Hostile) -> None:
    async with apibricks.AsyncClient(api_key=KEY, base_url=hostile.url("/bomb")) as client:
        with pytest.raises(apibricks.ResponseTooLargeError, match="268,435,456"):
            await client.invoices.list_paid()
    assert hostile.hits == 1


async def test_a_declared_length_over_the_cap_is_refused(hostile: Hostile) -> None:
    async with apibricks.AsyncClient(
        api_key=KEY, base_url=hostile.url("/declared"), max_response_bytes=CAP
    ) as client:
        with pytest.raises(apibricks.ResponseTooLargeError):
            await client.invoices.list_paid()
    async with apibricks.AsyncClient(
        api_key=KEY, base_url=hostile.url("/small"), max_response_bytes=CAP
    ) as client:
        assert await client.invoices.list_paid() == []


@pytest.mark.parametrize("kind", ["errorbomb", "errorendless"])
async def test_error_bodies_are_kept_up_to_64_kib(hostile: Hostile, kind: str) -> None:
    async with apibricks.AsyncClient(
        api_key=KEY, base_url=hostile.url(f"/{kind}"), max_retries=0
    ) as client:
        with pytest.raises(apibricks.InternalServerError) as caught:
            await client.invoices.list_paid()
    await hostile.wait_hang_up()
    assert isinstance(caught.value.body, str)
    assert len(caught.value.body) <= 64 * 1024


async def test_no_limit_reads_a_large_gzip_body(hostile: Hostile) -> None:
    # None lifts the cap: the bomb is inflated until the server gives up (a bounded
    # number of members here), so keep this to the small body.
    async with apibricks.AsyncClient(
        api_key=KEY, base_url=hostile.url("/small"), max_response_bytes=None
    ) as client:
        assert await client.invoices.list_paid() == []


async def test_timeout_bounds_the_whole_body_read(hostile: Hostile) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with apibricks.AsyncClient(
        api_key=KEY, base_url=hostile.url("/stall"), timeout=0.5, max_retries=0
    ) as client:
        with pytest.raises(apibricks.APITimeoutError):
            await client.invoices.list_paid()
    assert loop.time() - started < 5, "the 10 s drip-feed was cut by the 0.5 s timeout"


@pytest.mark.parametrize("bad", [0, -1, 1.5, "1", True])
def test_max_response_bytes_must_be_a_positive_int(bad: Any) -> None:
    with pytest.raises(apibricks.ConfigurationError, match="max_response_bytes"):
        apibricks.AsyncClient(api_key=KEY, max_response_bytes=bad)
