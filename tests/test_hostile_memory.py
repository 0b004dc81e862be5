"""A failed call releases its memory: the error holds what it shows, no body, no cycle.

Each scenario fails one call on a large body (too large, a gzip bomb, an undecodable 2xx,
an HTML page) and then checks, with the cyclic collector off, that the text reachable from
the error (its attributes, its traceback's frames and their locals, its chain) is far
smaller than the body, and that dropping the error frees it at once (a weak reference dies
without ``gc.collect()``: no cycle error -> traceback -> frame -> error).
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import sys
import types
import weakref
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import apibricks
from apibricks import _retry, sandbox

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
MIB = 2**20
BODY = 24 * MIB  # every scenario's body, inflated
CAP = 8 * MIB  # max_response_bytes where the scenario needs one
KEY = "sk_live_memory_0123456789abcdef"

PAGE = (
    b"<html><head><title>Hotel Wi-Fi: sign in</title><style>body{color:red}</style>"
    b"</head><body>" + b"<p>welcome</p>" * (BODY // 14) + b"</body></html>"
)
NOT_INVOICES = b'[{"id": "' + b"x" * BODY + b'"}]'
BOMB = gzip.compress(b"[" + b" " * BODY + b"]", 9)
NUMBERS = b"[" + b"1," * (BODY // 8) + b"1]"  # parses to a list, then fails to structure


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "BACKOFF_BASE", 0.001)


@pytest.fixture
async def heavy() -> AsyncIterator[TestServer]:
    """Answers per path: /page (HTML 200), /bomb (gzip), /big, /shape, /numbers (JSON)."""
    answers: dict[str, tuple[bytes, dict[str, str]]] = {
        "page": (PAGE, {"Content-Type": "text/html; charset=utf-8"}),
        "bomb": (BOMB, {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
        "big": (b"[" + b" " * BODY + b"]", {"Content-Type": "application/json"}),
        "shape": (NOT_INVOICES, {"Content-Type": "application/json"}),
        "numbers": (NUMBERS, {"Content-Type": "application/json"}),
    }

    async def handle(request: web.Request) -> web.Response:
        body, headers = answers[request.path.split("/")[1]]
        return web.Response(body=body, headers=headers)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    async with TestServer(app, host="127.0.0.1") as server:
        yield server


@pytest.fixture
def no_cycle_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# The caller's client and pool (reached through a frame's ``self``) are not the error's.
NOT_THE_ERRORS = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.CodeType,
    types.BuiltinFunctionType,
    asyncio.AbstractEventLoop,
    aiohttp.ClientSession,
    aiohttp.BaseConnector,
    apibricks.AsyncClient,
)


def text_held_by(error: BaseException) -> int:
    """Bytes of str/bytes reachable from ``error`` (frames: their locals only)."""
    from apibricks._async._transport import Transport

    seen: set[int] = set()
    todo: list[Any] = [error]
    total = 0
    while todo:
        obj = todo.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (*NOT_THE_ERRORS, Transport)):
            continue
        if isinstance(obj, types.FrameType):
            todo += obj.f_locals.values()  # not f_back (the caller's), not globals
        elif isinstance(obj, types.TracebackType):
            todo += [obj.tb_frame, obj.tb_next]
        elif isinstance(obj, (bytes, bytearray, str, memoryview)):
            total += len(obj)
        else:
            todo += gc.get_referents(obj)
    return total


async def failure_of(call: Any) -> BaseException:
    """The error ``call`` raises (caught here, so no test frame holds it in a cycle)."""
    try:
        await call
    except apibricks.APIBricksError as caught:
        return caught
    raise AssertionError("the call did not fail")


SCENARIOS = {
    "too large": ("big", CAP, apibricks.ResponseTooLargeError),
    "gzip bomb": ("bomb", CAP, apibricks.ResponseTooLargeError),
    "html page": ("page", None, apibricks.DecodeError),
    "undecodable 2xx": ("shape", None, apibricks.DecodeError),
    "parsed, then refused": ("numbers", None, apibricks.DecodeError),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.usefixtures("no_cycle_collector")
async def test_a_failed_call_keeps_no_body_and_no_cycle(heavy: TestServer, scenario: str) -> None:
    path, cap, expected = SCENARIOS[scenario]
    async with apibricks.AsyncClient(
        api_key=KEY, base_url=str(heavy.make_url(f"/{path}")), max_response_bytes=cap
    ) as client:
        error = await failure_of(client.invoices.list_paid())
    assert isinstance(error, expected), repr(error)
    held = text_held_by(error)
    assert held < 256 * 1024, f"{scenario}: {held / MIB:.1f} MiB of text held by the error"
    gone = weakref.ref(error)
    del error
    assert gone() is None, f"{scenario}: a reference cycle keeps the error alive"


async def test_an_html_200_says_status_type_and_title(heavy: TestServer) -> None:
    async with apibricks.AsyncClient(api_key=KEY, base_url=str(heavy.make_url("/page"))) as c:
        with pytest.raises(apibricks.DecodeError) as caught:
            await c.invoices.list_paid()
    message = str(caught.value)
    assert message.startswith("200 text/html (Hotel Wi-Fi: sign in) is not JSON"), message
    assert "<" not in message and "color" not in message


@pytest.fixture
async def small_answers() -> AsyncIterator[TestServer]:
    async def handle(request: web.Request) -> web.Response:
        kind = request.path.split("/")[1]
        if kind == "ok":
            return web.Response(text="OK", content_type="text/plain")
        if kind == "empty":
            return web.Response(status=204)
        if kind == "echo":  # a 2xx that echoes the key where a UUID belongs
            key = request.headers["Authorization"]
            return web.json_response([{"id": 1, "idOrganization": key[2:]}])
        raise AssertionError(kind)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    async with TestServer(app, host="127.0.0.1") as server:
        yield server


@pytest.mark.parametrize(
    ("path", "start"),
    [
        ("ok", "200 text/plain (OK) is not JSON: "),
        ("empty", "204 without a Content-Type with an empty body"),
    ],
)
async def test_a_2xx_that_is_not_json_says_what_came_back(
    facade: Any, small_answers: TestServer, path: str, start: str
) -> None:
    with pytest.raises(apibricks.DecodeError) as caught:
        await facade(
            lambda c: c.invoices.list_paid(),
            api_key=KEY,
            base_url=str(small_answers.make_url(f"/{path}")),
        )
    assert str(caught.value).startswith(start), str(caught.value)


async def test_a_streamed_decode_error_hides_an_echoed_key(small_answers: TestServer) -> None:
    url = str(small_answers.make_url("/echo"))
    async with apibricks.AsyncClient(api_key=KEY, base_url=url) as client:
        with pytest.raises(apibricks.DecodeError) as caught:
            async for _ in client.invoices.iter_paid():
                pass
    assert "idOrganization" in str(caught.value)
    assert KEY[2:10] not in str(caught.value), str(caught.value)


async def test_a_raw_parse_error_hides_an_echoed_key(small_answers: TestServer) -> None:
    url = str(small_answers.make_url("/echo"))
    async with apibricks.AsyncClient(api_key=KEY, base_url=url) as client:
        response = await client.invoices.with_raw_response.list_paid()
    assert KEY[2:] in response.content.decode(), "the raw content keeps what was sent"
    with pytest.raises(apibricks.DecodeError) as caught:
        response.parse()
    assert KEY[2:10] not in str(caught.value), str(caught.value)


async def test_a_decode_error_hides_an_echoed_key(facade: Any, small_answers: TestServer) -> None:
    with pytest.raises(apibricks.DecodeError) as caught:
        await facade(
            lambda c: c.invoices.list_paid(),
            api_key=KEY,
            base_url=str(small_answers.make_url("/echo")),
        )
    assert KEY[2:10] not in str(caught.value), str(caught.value)


@pytest.mark.parametrize("keep", [False, True], ids=["dropped", "kept"])
def test_a_failing_fan_out_peaks_at_concurrency_times_cap(keep: bool) -> None:
    """In a fresh process: 48 keys, each a gzip bomb past a 4 MiB cap, 4 at a time. Before
    this fix the failures' frames kept every body: +109 MiB dropped, +221 MiB kept."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from bench_failure_memory import run_child
    finally:
        sys.path.remove(str(BENCHMARKS))
    result = run_child(keys=48, concurrency=4, cap_mib=4, keep=keep)
    assert result["kept"] == (48 if keep else 0)
    margin = 32  # MiB: allocator slack and the interpreter's own noise, generous
    assert result["peak_growth_mib"] < result["bound_mib"] + margin, result
    assert result["held_after_mib"] < 16, result


@pytest.mark.usefixtures("no_cycle_collector")
@pytest.mark.parametrize("where", [0, 150, 299])
async def test_a_failed_stream_keeps_no_bytes_and_no_cycle(where: int) -> None:
    """``iter_paid``: the error of a bad invoice holds none of the megabytes read before it."""
    record = json.loads(sandbox.make_invoices_payload("sk_sandbox_streamed", 1))[0]
    record["someFieldAddedLater"] = "x" * 20_000  # ~6 MB of invoices around the bad one
    records = [dict(record, id=f"in_{n}") for n in range(300)]
    records[where] = dict(records[where], paid="yes")
    body = json.dumps(records).encode()

    async def handle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), 2**20):
            await response.write(body[start : start + 2**20])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/invoices/paid", handle)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        apibricks.AsyncClient(api_key=KEY, base_url=str(server.make_url(""))) as client,
    ):

        async def consume() -> None:
            async for _ in client.invoices.iter_paid():
                pass

        error = await failure_of(consume())
    assert isinstance(error, apibricks.DecodeError), repr(error)
    assert str(error).startswith(f"[{where}].paid")
    held = text_held_by(error)
    assert held < 256 * 1024, f"{held / MIB:.1f} MiB of text held by the error"
    gone = weakref.ref(error)
    del error
    assert gone() is None, "a reference cycle keeps the error alive"
