"""The key is refused when unsafe, never sent elsewhere, never printed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import apibricks
from apibricks import sandbox

SECRET = "sk_sandbox_topsecret_0123456789"


@pytest.mark.parametrize(
    "bad_key", ["", "   ", "sk_sandbox_a\r\nX-Injected: 1", "sk_sandbox_a\n", "sk\rb"]
)
async def test_unsafe_keys_are_refused_before_any_io(
    sandbox_server: sandbox.Sandbox, bad_key: str
) -> None:
    url = sandbox_server.url
    with pytest.raises(ValueError, match="API key") as caught:
        apibricks.AsyncClient(api_key=bad_key, base_url=url)
    assert isinstance(caught.value, apibricks.APIBricksError)
    async with apibricks.AsyncClient(base_url=url) as client:
        with pytest.raises(apibricks.APIKeyError):
            client.with_api_key(bad_key)
    assert sandbox_server.total_requests == 0


def test_plain_http_is_refused_off_loopback() -> None:
    with pytest.raises(ValueError, match="allow_insecure_http"):
        apibricks.AsyncClient(api_key=SECRET, base_url="http://api.example.com")
    client = apibricks.AsyncClient(
        api_key=SECRET, base_url="http://api.example.com", allow_insecure_http=True
    )
    assert client.base_url == "http://api.example.com"
    for loopback in ("http://127.0.0.1:8080", "http://localhost", "http://[::1]:9"):
        apibricks.AsyncClient(api_key=SECRET, base_url=loopback)


async def test_key_never_in_repr_or_errors(sandbox_server: sandbox.Sandbox) -> None:
    url = sandbox_server.url
    async with apibricks.AsyncClient(api_key=SECRET + "~503", base_url=url, max_retries=0) as c:
        assert SECRET not in repr(c)
        assert SECRET not in repr(c.with_api_key(SECRET))
        with pytest.raises(apibricks.APIStatusError) as caught:
            await c.invoices.list_paid()
    rendered = [str(caught.value), repr(caught.value), repr(caught.value.headers)]
    assert all(SECRET not in text for text in rendered)


@pytest.fixture
async def other_origin() -> AsyncIterator[tuple[TestServer, list[str]]]:
    """A foreign host that records every Authorization header it is sent."""
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response([])

    app = web.Application()
    app.router.add_get("/{tail:.*}", record)
    async with TestServer(app, host="127.0.0.1") as server:
        yield server, seen


@pytest.fixture
async def redirecting(
    other_origin: tuple[TestServer, list[str]],
) -> AsyncIterator[TestServer]:
    """``/cross/...`` redirects to the other origin, ``/same/...`` to itself."""
    foreign, _ = other_origin

    async def cross(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(str(foreign.make_url("/invoices/paid")))

    async def same(request: web.Request) -> web.Response:
        raise web.HTTPPermanentRedirect("/final/invoices/paid")

    async def final(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == SECRET
        return web.json_response([])

    app = web.Application()
    app.router.add_get("/cross/invoices/paid", cross)
    app.router.add_get("/same/invoices/paid", same)
    app.router.add_get("/final/invoices/paid", final)
    async with TestServer(app, host="127.0.0.1") as server:
        yield server


async def test_redirect_to_another_origin_never_carries_the_key(
    facade: Any, redirecting: TestServer, other_origin: tuple[TestServer, list[str]]
) -> None:
    _, seen = other_origin
    with pytest.raises(apibricks.APIStatusError, match="another origin") as caught:
        await facade(
            lambda c: c.invoices.list_paid(),
            api_key=SECRET,
            base_url=str(redirecting.make_url("/cross")),
        )
    assert caught.value.status_code == 307
    assert seen == [], "the foreign host was never contacted"


async def test_same_origin_redirect_is_followed(facade: Any, redirecting: TestServer) -> None:
    invoices = await facade(
        lambda c: c.invoices.list_paid(),
        api_key=SECRET,
        base_url=str(redirecting.make_url("/same")),
    )
    assert invoices == []


async def test_debug_logs_never_show_the_key(
    sandbox_server: sandbox.Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = sandbox_server.url
    for suffix in ("", "~503", "~reset", "~malformed"):
        async with apibricks.AsyncClient(
            api_key=SECRET + suffix, base_url=url, max_retries=0
        ) as client:
            outcome: Any
            try:
                outcome = await client.invoices.list_paid()
            except apibricks.APIBricksError as error:
                outcome = error
            assert SECRET not in str(outcome)
    assert caplog.records, "DEBUG logging was on and produced lines"
    assert SECRET not in caplog.text


async def test_traceback_locals_show_only_a_hint(sandbox_server: sandbox.Sandbox) -> None:
    """Error reporters (Sentry, rich, pytest -l) print frame locals: the key is among them."""
    import traceback

    async with apibricks.AsyncClient(
        api_key=SECRET + "~503", base_url=sandbox_server.url, max_retries=0
    ) as client:
        with pytest.raises(apibricks.APIStatusError) as caught:
            await client.invoices.list_paid()
    formatted = "".join(
        traceback.TracebackException.from_exception(caught.value, capture_locals=True).format()
    )
    hint = apibricks._auth.key_hint(SECRET + "~503")
    assert f"api_key={hint!r}" in formatted, "the client, with its hint, is among the locals"
    assert SECRET not in formatted
