"""Crash reporters record every frame's locals: no echo of the key either (issue 24 item 5).

Issue 12 made sure no frame of apibricks holds the key it sent. A server can send it back:
in a body, a header, a ``Location``. With ``traceback.TracebackException(
capture_locals=True)`` (what Sentry records), the locals of every apibricks frame in the
error's tracebacks (its ``__cause__``/``__context__`` chain included) must show no
8 characters of the key in a row, plain, URL-encoded or base64: no response object with
its headers, no body, no redirect target.
"""

from __future__ import annotations

import asyncio
import base64
import traceback
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from any_path_server import serve_any_path
from test_hostile_echoes import leaks
from test_hostile_locals import chain, holds

import apibricks

PACKAGE = str(Path(apibricks.__file__).parent)
pytestmark = pytest.mark.usefixtures("fast_backoff")

KEY = "sk_live_EchoLocals_0123456789abcdef"


@pytest.fixture
async def echo() -> AsyncIterator[TestServer]:
    async def handle(request: web.Request) -> web.StreamResponse:
        key = request.headers["Authorization"]
        kind, _, rest = request.path.strip("/").partition("/")
        echoed = {"X-Echo": key, "X-B64": base64.b64encode(key.encode()).decode()}
        if kind == "status":
            return web.json_response(
                {"title": f"bad {key}", "errors": [[key[:-1]]], key: 1}, status=400, headers=echoed
            )
        if kind == "server":  # retried, then given up
            return web.Response(status=503, text=f"down for {key}", headers=echoed)
        if kind == "elsewhere":
            raise web.HTTPFound(f"https://{key.lower()}.evil.example/", headers=echoed)
        if kind == "loop":
            raise web.HTTPFound(f"/loop/{key}/x" if not rest.startswith(key) else "/loop/a")
        if kind == "hop":  # one hop to a path holding the key, then a body past the cap
            if rest.startswith("invoices"):
                raise web.HTTPFound(f"/hop/{key}/paid")
            return web.Response(body=b"[" + key.encode() * 5000 + b"]", headers=echoed)
        if kind == "decode":
            return web.json_response([{"id": key}], headers=echoed)
        if kind == "html":
            return web.Response(text=f"<title>{key}</title>", content_type="text/html")
        raise AssertionError(kind)

    async with serve_any_path(handle) as server:
        yield server


def assert_no_echo_in_locals(error: BaseException, where: str) -> None:
    checked = 0
    for link in chain(error):
        formatted = traceback.TracebackException(
            type(link), link, link.__traceback__, capture_locals=True
        )
        for summary in formatted.stack:
            if not summary.filename.startswith(PACKAGE):
                continue
            checked += 1
            for name, text in (summary.locals or {}).items():
                assert not leaks(text, KEY), f"{where}: {summary.name}() local {name}: {text}"
        tb = link.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code.co_filename.startswith(PACKAGE):
                for name, value in frame.f_locals.items():
                    assert not holds(value, [KEY[i : i + 8] for i in range(len(KEY) - 7)]), (
                        f"{where}: {frame.f_code.co_name}() local {name!r} holds an echo"
                    )
            tb = tb.tb_next
    assert checked, f"{where}: no apibricks frame in the traceback"


FAULTS = ["status", "server", "elsewhere", "loop", "hop", "decode", "html"]


@pytest.mark.parametrize("fault", FAULTS)
async def test_no_frame_holds_an_echo_of_the_key(echo: TestServer, fault: str) -> None:
    async with apibricks.AsyncClient(
        api_key=KEY,
        base_url=str(echo.make_url(f"/{fault}")),
        max_retries=1,
        max_response_bytes=64 * 1024,
    ) as client:
        with pytest.raises(apibricks.APIBricksError) as caught:
            await client.invoices.list_paid()
    assert not leaks(str(caught.value), KEY)
    assert_no_echo_in_locals(caught.value, fault)


async def test_no_frame_holds_an_echo_in_a_fan_out(echo: TestServer) -> None:
    async with apibricks.AsyncClient(
        base_url=str(echo.make_url("/status")), max_retries=0
    ) as client:
        outcomes = [o async for o in client.fan_out([KEY], lambda org: org.invoices.list_paid())]
    assert outcomes[0].error is not None
    assert_no_echo_in_locals(outcomes[0].error, "fan_out")


async def test_the_sync_client_holds_no_echo_either(echo: TestServer) -> None:
    def run() -> BaseException:
        url = str(echo.make_url("/elsewhere"))
        with (
            apibricks.Client(api_key=KEY, base_url=url) as client,
            pytest.raises(apibricks.RedirectError) as caught,
        ):
            client.invoices.list_paid()
        return caught.value

    assert_no_echo_in_locals(await asyncio.to_thread(run), "sync")
