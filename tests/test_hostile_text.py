"""Server text is data: escaped, capped, the key hidden; Retry-After on every retried status."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from any_path_server import serve_any_path

import apibricks
from apibricks import sandbox
from apibricks._auth import key_hint
from apibricks._retry import parse_retry_after

pytestmark = pytest.mark.usefixtures("fast_backoff")

KEY = "sk_live_echoed_0123456789abcdef"
ESC = "\x1b[2J\x1b]0;pwned\x07"


@pytest.fixture
async def echo() -> AsyncIterator[TestServer]:
    """A server that answers 400 echoing the key it was sent, with hostile text around it."""

    async def handle(request: web.Request) -> web.Response:
        key = request.headers["Authorization"]
        problem = {
            "title": f"Bad key {key}{ESC}",
            "detail": f"The key {key} is invalid.\r\nINFO forged log line\u202e" + "x" * 20_000,
            "traceId": f"00-abc\r\nFORGED: {key}{ESC}",
            "echo": {"nested": [key]},
        }
        return web.Response(
            status=400,
            text=json.dumps(problem),
            content_type="application/problem+json",
            headers={"X-Echo": f"key={key}", "X-Request-Id": "rid-1"},
        )

    async with serve_any_path(handle) as server:
        yield server


async def test_echoed_key_and_hostile_text_are_neutralised(
    facade: Any, echo: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="apibricks")
    with pytest.raises(apibricks.BadRequestError) as caught:
        await facade(lambda c: c.invoices.list_paid(), api_key=KEY, base_url=str(echo.make_url("")))
    error = caught.value
    message = str(error)
    assert KEY not in message
    assert key_hint(KEY) in message
    assert "\x1b" not in message and "\r" not in message and "\n" not in message
    assert "\u202e" not in message
    assert "\\x1b" in message, "controls are escaped, not dropped"
    assert len(message) < 1200, "each server string is capped"
    assert "more characters cut" in message
    assert KEY not in repr(error.body) and key_hint(KEY) in error.body["echo"]["nested"][0]
    assert KEY not in repr(dict(error.headers)) and error.headers["x-echo"].endswith(key_hint(KEY))
    assert error.request_id is not None
    assert "\r" not in error.request_id and "\n" not in error.request_id
    assert KEY not in error.request_id
    assert KEY not in caplog.text
    assert all("\x1b" not in r.getMessage() and "\n" not in r.getMessage() for r in caplog.records)


# --- Retry-After --------------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 500, 502, 408, 409])
async def test_retry_after_is_honoured_on_every_retried_status(
    sandbox_server: sandbox.Sandbox, status: int
) -> None:
    key = f"sk_sandbox_polite~{status}r0.3x1"
    loop = asyncio.get_running_loop()
    async with apibricks.AsyncClient(api_key=key, base_url=sandbox_server.url) as client:
        started = loop.time()
        await client.invoices.list_paid()
        elapsed = loop.time() - started
    assert elapsed >= 0.3
    assert sandbox_server.requests_for(key) == 2


@pytest.mark.parametrize("status", [503, 500, 429])
async def test_retry_after_beyond_the_cap_raises_at_once(
    facade: Any, sandbox_server: sandbox.Sandbox, status: int
) -> None:
    key = f"sk_sandbox_busy~{status}r120"
    with pytest.raises(apibricks.APIStatusError) as caught:
        await facade(lambda c: c.invoices.list_paid(), api_key=key)
    assert caught.value.retry_after == pytest.approx(120)
    assert caught.value.status_code == status
    assert sandbox_server.requests_for(key) == 1


@pytest.fixture
async def odd_retry_after() -> AsyncIterator[tuple[TestServer, list[float]]]:
    """503 once with the Retry-After given in the path, then 200; records request times."""
    seen: list[float] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(asyncio.get_running_loop().time())
        if len(seen) == 1:
            value = request.path.strip("/").split("/")[0]
            return web.Response(status=503, headers={"Retry-After": value})
        return web.json_response([])

    async with serve_any_path(handle) as server:
        yield server, seen


@pytest.mark.parametrize("value", ["inf", "nan", "-5", "1e400", "soon", "-inf"])
async def test_unusable_retry_after_falls_back_to_jittered_backoff(
    odd_retry_after: tuple[TestServer, list[float]], value: str
) -> None:
    server, seen = odd_retry_after
    async with apibricks.AsyncClient(
        api_key=KEY, base_url=str(server.make_url(f"/{value}")), retry_after_cap=60
    ) as client:
        assert await client.invoices.list_paid() == []
    assert len(seen) == 2, "retried, not raised at once nor slept on forever"
    assert seen[1] - seen[0] < 1.0
    assert parse_retry_after({"Retry-After": value}) is None
