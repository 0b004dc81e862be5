"""Every URL the client shows gets the redaction server text gets (issue 24 item 2).

A server redirects to a URL that holds the key (``Location: /v2/<key>/paid``), or part of
it, or puts it in another origin's host name. Neither the log lines (INFO and DEBUG), nor
``APIResponse.url`` and its ``repr``, nor ``HookEvent.url``, nor any ``RedirectError``,
nor the CLI's stderr may show 8 characters of it in a row.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from any_path_server import serve_any_path
from test_cli import cli
from test_hostile_echoes import leaks

import apibricks

pytestmark = pytest.mark.usefixtures("fast_backoff")

KEY = "sk_live_UrlEcho_0123456789abcdefXYZ"


@pytest.fixture
async def echo() -> AsyncIterator[TestServer]:
    """Each first path segment a way to send the caller somewhere that names its key."""
    seen: dict[str, int] = {}

    async def handle(request: web.Request) -> web.StreamResponse:
        key = request.headers["Authorization"]
        kind, _, rest = request.path.strip("/").partition("/")
        seen[request.path] = seen.get(request.path, 0) + 1
        if kind == "same":  # one hop to a path holding the key, then 503 once, then 200
            if rest.startswith("invoices"):
                raise web.HTTPFound(f"/same/v2/{key}/paid")
            if seen[request.path] == 1:
                return web.Response(status=503)
            return web.json_response([])
        if kind == "part":  # a path holding most of the key, cut and lower-cased
            if rest.startswith("invoices"):
                raise web.HTTPFound(f"/part/v2/{key[3:-2].lower()}/paid")
            return web.json_response([])
        if kind == "loop":
            target = "/loop/a/invoices/paid" if rest.startswith(key) else f"/loop/{key}/x"
            raise web.HTTPFound(target)
        if kind == "chain":
            step = int(rest.split("/")[0]) if rest[0].isdigit() else 0
            raise web.HTTPFound(f"/chain/{step + 1}/{key}/x")
        if kind == "nonascii":
            response = web.Response(status=302)
            response.headers["Location"] = f"/v2/{key}/\u00fc".encode().decode("latin-1")
            return response
        if kind == "host":
            raise web.HTTPFound(f"https://{key.lower()}.evil.example/paid")
        if kind == "hostpart":
            raise web.HTTPFound(f"http://x{key[:-3]}.evil.example:8080/{key[2:]}")
        raise AssertionError(kind)

    async with serve_any_path(handle) as server:
        yield server


async def test_a_followed_redirect_shows_no_key_in_logs_hooks_or_the_response(
    facade: Any, echo: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="apibricks")
    events: list[apibricks.HookEvent] = []
    hooks = {name: [events.append] for name in ("request", "response", "retry")}
    response = await facade(
        lambda c: c.invoices.with_raw_response.list_paid(),
        api_key=KEY,
        base_url=str(echo.make_url("/same")),
        event_hooks=hooks,
    )
    assert response.status_code == 200
    assert "/v2/" in response.url, "the URL that answered is still shown, key hidden"
    assert not leaks(response.url, KEY) and not leaks(repr(response), KEY)
    assert {e.event for e in events} == {"request", "response", "retry"}
    assert not any(leaks(event.url, KEY) or leaks(repr(event), KEY) for event in events)
    levels = {record.levelno for record in caplog.records}
    assert {logging.DEBUG, logging.INFO} <= levels
    assert not leaks(caplog.text, KEY)


async def test_a_cut_lower_cased_echo_in_a_path_is_hidden(facade: Any, echo: TestServer) -> None:
    response = await facade(
        lambda c: c.invoices.with_raw_response.list_paid(),
        api_key=KEY,
        base_url=str(echo.make_url("/part")),
    )
    assert not leaks(response.url, KEY) and not leaks(repr(response), KEY)


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("loop", "loop"),
        ("chain", "Too many redirects"),
        ("nonascii", "invalid Location"),
        ("host", "another origin"),
        ("hostpart", "another origin"),
    ],
)
async def test_redirect_errors_show_no_key(
    facade: Any, echo: TestServer, caplog: pytest.LogCaptureFixture, kind: str, match: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="apibricks")
    with pytest.raises(apibricks.RedirectError, match=match) as caught:
        await facade(
            lambda c: c.invoices.list_paid(), api_key=KEY, base_url=str(echo.make_url(f"/{kind}"))
        )
    error = caught.value
    assert error.status_code == 302, "the last 3xx, never 0"
    for shown in (str(error), repr(error), repr(list(error.headers.items())), caplog.text):
        assert not leaks(shown, KEY), shown


async def test_the_cli_shows_no_key_from_a_url(echo: TestServer) -> None:
    result = await cli(
        "invoices", "paid", "-vv", "--max-retries", "1",
        "--base-url", str(echo.make_url("/host")),
        APIBRICKS_API_KEY=KEY,
    )  # fmt: skip
    assert result.code != 0 and "another origin" in result.err
    assert not leaks(result.err, KEY) and not leaks(result.out, KEY)
    result = await cli(
        "invoices", "paid", "-vv", "--base-url", str(echo.make_url("/same")),
        APIBRICKS_API_KEY=KEY,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "retrying" in result.err and not leaks(result.err, KEY)
