"""``invoices.iter_paid()``: the invoices of ``list_paid()``, as they arrive, in flat memory.

Real HTTP on loopback: the sandbox (``~big<N>`` bodies are made on the fly and sent
chunked, gzip when asked) and aiohttp test servers that cut, stall or corrupt a body
part-way, to check what the caller holds when a stream fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import apibricks
from apibricks import sandbox
from tests.test_converter import _layouts, raw_invoice

KEY = "sk_test_stream_0123456789abcdef"


async def collect(kind: str, url: str, key: str, **kwargs: Any) -> list[apibricks.Invoice]:
    """Every invoice of ``iter_paid()`` through the async or the sync client."""
    max_invoice_bytes = kwargs.pop("max_invoice_bytes", 16 * 2**20)
    if kind == "async":
        async with apibricks.AsyncClient(api_key=key, base_url=url, **kwargs) as client:
            return [i async for i in client.invoices.iter_paid(max_invoice_bytes=max_invoice_bytes)]

    def blocking() -> list[apibricks.Invoice]:
        with apibricks.Client(api_key=key, base_url=url, **kwargs) as client:
            return list(client.invoices.iter_paid(max_invoice_bytes=max_invoice_bytes))

    return await asyncio.to_thread(blocking)


async def list_paid(url: str, key: str, **kwargs: Any) -> list[apibricks.Invoice]:
    async with apibricks.AsyncClient(api_key=key, base_url=url, **kwargs) as client:
        return await client.invoices.list_paid()


@pytest.fixture(params=["async", "sync"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize(
    "suffix", ["", "~aspnet", "~n0", "~n1", "~n3000", "~big1", "~big5000", "~big5000~aspnet"]
)
async def test_the_same_invoices_as_list_paid(kind: str, sandbox_url: str, suffix: str) -> None:
    key = f"sk_sandbox_stream{suffix}"
    whole = await list_paid(sandbox_url, key)
    streamed = await collect(kind, sandbox_url, key)
    assert streamed == whole
    assert len({id(i.organization) for i in streamed}) == min(1, len(whole))


async def test_views_stream_too(sandbox_url: str) -> None:
    async with apibricks.AsyncClient(base_url=sandbox_url) as client:
        view = client.with_api_key("sk_sandbox_views~n40").with_options(timeout=20)
        assert [i async for i in view.invoices.iter_paid()] == await view.invoices.list_paid()


async def test_failures_before_the_body_are_retried(sandbox_server: sandbox.Sandbox) -> None:
    assert sandbox_server.url is not None
    key = "sk_sandbox_retry~503x2~n30"
    invoices = await collect("async", sandbox_server.url, key, max_retries=2)
    assert len(invoices) == 30
    assert sandbox_server.requests_for(key) == 3


async def test_max_response_bytes_does_not_apply(kind: str, sandbox_url: str) -> None:
    key = "sk_sandbox_cap~n200"
    with pytest.raises(apibricks.ResponseTooLargeError):
        await list_paid(sandbox_url, key, max_response_bytes=10_000)
    streamed = await collect(kind, sandbox_url, key, max_response_bytes=10_000)
    assert len(streamed) == 200


# --- a server that sends a body of our choosing, in chunks of our choosing ---


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/invoices/paid", handler)
    server = TestServer(app)
    await server.start_server()
    try:
        yield str(server.make_url(""))
    finally:
        await server.close()


def chunked(
    body: bytes, sizes: list[int], then: Callable[[web.Request], Awaitable[None]] | None = None
) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        position = 0
        for size in sizes:
            await response.write(body[position : position + size])
            position += size
        if then is not None:
            await then(request)
            return response
        await response.write(body[position:])
        await response.write_eof()
        return response

    return handler


LAYOUTS = {
    name: text.encode()
    for name, text in _layouts([raw_invoice(index) for index in range(30)]).items()
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sizes=st.lists(st.integers(1, 5000), max_size=30))
async def test_any_layout_in_any_chunks(kind: str, layout: str, sizes: list[int]) -> None:
    body = LAYOUTS[layout]
    async with serving(chunked(body, sizes)) as url:
        streamed = await collect(kind, url, KEY)
        assert streamed == await list_paid(url, KEY)
    assert len({id(i.organization) for i in streamed}) == 1


BODY = json.dumps([raw_invoice(index) for index in range(200)]).encode()
HALF = BODY.index(b'{"idOrganization"', len(BODY) // 2)  # invoice 100 starts here


async def hang_up(request: web.Request) -> None:
    """Close mid-body (FIN, after what was sent: an RST could drop unread bytes)."""
    assert request.transport is not None
    request.transport.close()


async def test_a_connection_lost_mid_body_says_how_many_invoices_came(kind: str) -> None:
    got: list[apibricks.Invoice] = []

    async def consume(url: str) -> None:
        async with apibricks.AsyncClient(api_key=KEY, base_url=url, max_retries=3) as client:
            async for invoice in client.invoices.iter_paid():
                got.append(invoice)

    async with serving(chunked(BODY, [HALF], then=hang_up)) as url:
        with pytest.raises(apibricks.APIConnectionError, match=r"connection was lost") as caught:  # noqa: PT012
            if kind == "async":
                await consume(url)
            else:
                await asyncio.to_thread(sync_consume, url, got)
    # What the socket had delivered before the close: all 100 sent, unless aiohttp dropped
    # unread bytes on seeing the close (it raises at once, buffer or not).
    assert f"after {len(got)} invoices" in str(caught.value)
    assert [i.invoice_number for i in got] == [f"ABCD-{n:04d}" for n in range(len(got))]
    assert len(got) <= 100
    assert not isinstance(caught.value, apibricks.APITimeoutError)


def sync_consume(url: str, got: list[apibricks.Invoice], **kwargs: Any) -> None:
    with apibricks.Client(api_key=KEY, base_url=url, max_retries=3, **kwargs) as client:
        for invoice in client.invoices.iter_paid():
            got.append(invoice)


async def test_a_silent_stream_times_out_after_the_invoices_it_sent(kind: str) -> None:
    hung_up = asyncio.Event()

    async def stall(request: web.Request) -> None:
        try:
            await asyncio.Event().wait()  # silent until the client gives up
        finally:
            hung_up.set()

    got: list[apibricks.Invoice] = []
    async with serving(chunked(BODY, [HALF], then=stall)) as url:
        with pytest.raises(apibricks.APITimeoutError, match="silent"):  # noqa: PT012
            if kind == "async":
                async with apibricks.AsyncClient(api_key=KEY, base_url=url, timeout=0.3) as client:
                    async for invoice in client.invoices.iter_paid():
                        got.append(invoice)
            else:
                await asyncio.to_thread(sync_consume, url, got, timeout=0.3)
        await asyncio.wait_for(hung_up.wait(), 10)
    assert len(got) == 100


async def test_timeout_bounds_silence_not_the_whole_body() -> None:
    """A body slower in total than ``timeout``, never silent for that long, streams whole."""
    pieces = [BODY[i : i + 4000] for i in range(0, len(BODY), 4000)]

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for piece in pieces:
            await response.write(piece)
            await asyncio.sleep(0.02)  # the scenario: a slow server, ~0.02 s between pieces
        await response.write_eof()
        return response

    async with serving(trickle) as url:
        assert len(pieces) * 0.02 > 0.5
        assert len(await collect("async", url, KEY, timeout=0.5)) == 200


@pytest.mark.parametrize("bad", [0, 99, 100, 199])
async def test_a_bad_invoice_mid_stream_is_named_by_its_index(kind: str, bad: int) -> None:
    data = [raw_invoice(index) for index in range(200)]
    data[bad]["organization"]["creditBalance"] = "12"
    body = json.dumps(data).encode()
    got: list[apibricks.Invoice] = []

    async def consume(url: str) -> None:
        async with apibricks.AsyncClient(api_key=KEY, base_url=url) as client:
            async for invoice in client.invoices.iter_paid():
                got.append(invoice)

    async with serving(chunked(body, [len(body) // 3] * 3)) as url:
        with pytest.raises(apibricks.DecodeError) as caught:  # noqa: PT012
            if kind == "async":
                await consume(url)
            else:
                await asyncio.to_thread(sync_consume, url, got)
    assert str(caught.value) == f"[{bad}].organization.creditBalance: expected int, got str"
    assert len(got) <= bad  # nothing past the bad one


async def test_one_invoice_over_max_invoice_bytes_is_refused(kind: str) -> None:
    data = [raw_invoice(index) for index in range(3)]
    data[1]["organization"]["name"] = "x" * 4_000_000  # more than any one read
    body = json.dumps(data).encode()
    async with serving(chunked(body, [2**16] * 70)) as url:
        with pytest.raises(apibricks.ResponseTooLargeError, match="max_invoice_bytes=50,000"):
            await collect(kind, url, KEY, max_invoice_bytes=50_000)
        assert len(await collect(kind, url, KEY, max_invoice_bytes=None)) == 3


# --- leaving early ---


def endless_then_whole(hung_up: asyncio.Event) -> Handler:
    """The first request gets an endless body; later ones get `BODY` whole."""
    piece = json.dumps(raw_invoice(1)).encode()
    requests = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal requests
        requests += 1
        if requests > 1:
            return web.Response(body=BODY, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            await response.write(b"[" + piece)
            while True:
                await response.write(b"," + piece)
        finally:
            hung_up.set()

    return handler


@pytest.mark.parametrize("how", ["break", "raise", "aclose", "cancel"])
async def test_leaving_early_closes_the_connection_and_the_client_goes_on(how: str) -> None:
    hung_up = asyncio.Event()
    async with (
        serving(endless_then_whole(hung_up)) as url,
        apibricks.AsyncClient(api_key=KEY, base_url=url) as client,
    ):
        if how == "break":
            async for _ in client.invoices.iter_paid():
                break
        elif how == "raise":
            with pytest.raises(LookupError):  # noqa: PT012
                async for _ in client.invoices.iter_paid():
                    raise LookupError
        elif how == "aclose":
            invoices = client.invoices.iter_paid()
            await invoices.__anext__()
            await invoices.aclose()  # type: ignore[attr-defined]
        else:
            started = asyncio.Event()

            async def consume() -> None:
                async for _ in client.invoices.iter_paid():
                    started.set()

            task = asyncio.create_task(consume())
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await asyncio.wait_for(hung_up.wait(), 10)
        assert len(await client.invoices.list_paid()) == 200  # the client goes on


def test_sync_break_closes_the_connection() -> None:
    server = sandbox.Sandbox()
    with server.serve_in_thread() as url, apibricks.Client(base_url=url) as client:
        big = client.with_api_key("sk_sandbox_sync~big1000000")
        for count, _ in enumerate(big.invoices.iter_paid()):
            if count == 10:
                break
        assert len(client.with_api_key("sk_sandbox_after").invoices.list_paid()) == 25
        server.wait_until(lambda: server.in_flight == 0)


# --- memory ---


# Child-process code: the peak RSS since exec (``VmHWM``; ``ru_maxrss`` keeps the forked
# parent's peak across exec, so a child of a big test worker would report the worker's).
PEAK_RSS_MB = """
def peak_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
"""

MEMORY_CHILD = PEAK_RSS_MB + textwrap.dedent(
    """
    import asyncio, sys
    import apibricks
    from apibricks import sandbox

    async def main(url):
        async with apibricks.AsyncClient(
            api_key="sk_sandbox_memory~big{count}", base_url=url,
            default_headers={{"Accept-Encoding": "identity"}},
        ) as client:
            count = 0
            async for invoice in client.invoices.iter_paid():
                count += 1
            return count

    with sandbox.serve_in_thread() as url:
        count = asyncio.run(main(url))
    print(count, peak_mb())
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_memory_stays_flat_however_large_the_body() -> None:
    """100,000 invoices (~206 MB of JSON) stream in a fraction of the body's size."""
    count = 100_000
    run = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD.format(count=count)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    streamed, peak = run.stdout.split()
    assert int(streamed) == count
    assert float(peak) < 150, f"peak RSS {peak} MB for a ~206 MB body"
