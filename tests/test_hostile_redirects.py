"""Hostile redirects, deep error bodies and careless base URLs end as specific typed errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import apibricks
from apibricks import _retry

KEY = "sk_test_redirects_0123456789"


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "BACKOFF_BASE", 0.001)


class Hostile:
    """A server whose answers per path are set by each test; it counts every request."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.server: TestServer | None = None

    def url(self, path: str = "") -> str:
        assert self.server is not None
        return str(self.server.make_url(path))


@pytest.fixture
async def hostile() -> AsyncIterator[Hostile]:
    state = Hostile()

    async def handle(request: web.Request) -> web.StreamResponse:
        state.hits.append(request.path)
        path = request.path
        if path.startswith("/badloc/"):
            kind = path.split("/")[2]
            location = {
                "empty": "",
                "nonascii": "/inv\u00f6ices/\u2603",
                "malformed": "http://[::1/x",
                "badport": "http://127.0.0.1:99999/x",
                "none": None,
            }[kind]
            response = web.Response(status=302)
            if location is not None:
                # Raw bytes on the wire, as a broken proxy would send them.
                response.headers["Location"] = location.encode().decode("latin-1")
            return response
        if path.startswith("/loop/"):
            raise web.HTTPFound(
                "/loop/b/invoices/paid" if "/a/" in path else "/loop/a/invoices/paid"
            )
        if path.startswith("/self/"):
            raise web.HTTPTemporaryRedirect(path)
        if path.startswith("/chain/"):
            step = int(path.split("/")[2])
            raise web.HTTPFound(f"/chain/{step + 1}/invoices/paid")
        if path.startswith("/deep/"):
            depth = 100_000
            body = "[" * depth + "]" * depth
            return web.Response(status=500, body=body, content_type="application/json")
        return web.json_response([])

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    async with TestServer(app, host="127.0.0.1") as server:
        state.server = server
        yield state


@pytest.mark.parametrize("kind", ["empty", "nonascii", "malformed", "badport", "none"])
async def test_a_bad_location_is_a_redirect_error(facade: Any, hostile: Hostile, kind: str) -> None:
    with pytest.raises(apibricks.RedirectError, match="Location") as caught:
        await facade(
            lambda c: c.invoices.list_paid(), api_key=KEY, base_url=hostile.url(f"/badloc/{kind}")
        )
    assert caught.value.status_code == 302
    assert len(hostile.hits) == 1, "a bad redirect is not retried"


async def test_a_redirect_loop_stops_at_the_first_repeat(facade: Any, hostile: Hostile) -> None:
    with pytest.raises(apibricks.RedirectError, match="loop") as caught:
        await facade(lambda c: c.invoices.list_paid(), api_key=KEY, base_url=hostile.url("/loop/a"))
    assert caught.value.status_code == 302
    # a -> b -> a -> (b again: the first repeated redirect) stop; nothing is retried.
    a, b = "/loop/a/invoices/paid", "/loop/b/invoices/paid"
    assert hostile.hits == [a, b, a]


async def test_a_self_redirect_loop_stops_at_the_first_repeat(
    facade: Any, hostile: Hostile
) -> None:
    with pytest.raises(apibricks.RedirectError, match="loop"):
        await facade(lambda c: c.invoices.list_paid(), api_key=KEY, base_url=hostile.url("/self"))
    assert hostile.hits == ["/self/invoices/paid"] * 2


async def test_one_redirect_to_the_same_url_is_followed(facade: Any, sandbox_server: Any) -> None:
    # The sandbox's `redirectx1`: a 307 to the very same URL, then a 200.
    invoices = await facade(
        lambda c: c.invoices.list_paid(), api_key="sk_sandbox_r~redirectx1~n2", max_retries=0
    )
    assert len(invoices) == 2


async def test_too_many_redirects_is_a_redirect_error(facade: Any, hostile: Hostile) -> None:
    with pytest.raises(apibricks.RedirectError, match="Too many redirects"):
        await facade(
            lambda c: c.invoices.list_paid(), api_key=KEY, base_url=hostile.url("/chain/0")
        )
    assert len(hostile.hits) == 6, "the first request and 5 redirects, then stop; no retry"


async def test_a_deeply_nested_error_body_is_a_status_error(facade: Any, hostile: Hostile) -> None:
    with pytest.raises(apibricks.InternalServerError) as caught:
        await facade(
            lambda c: c.invoices.list_paid(),
            api_key=KEY,
            base_url=hostile.url("/deep"),
            max_retries=1,
        )
    assert not isinstance(caught.value, apibricks.APIConnectionError)
    assert isinstance(caught.value.body, str)
    assert len(hostile.hits) == 2, "a 500 is retried as a 500, not as a broken connection"


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com",
        "http://127.attacker.example",
        "http://localhost.attacker.example",
        "http://0x7f.1",
        "http://127.0.0.1.nip.io",
        "http://[::ffff:808:808]",  # IPv4-mapped 8.8.8.8
    ],
)
def test_plain_http_off_loopback_is_a_configuration_error(url: str) -> None:
    with pytest.raises(apibricks.ConfigurationError, match="allow_insecure_http") as caught:
        apibricks.AsyncClient(api_key=KEY, base_url=url)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.0.0.2",
        "http://127.255.0.1",
        "http://[::1]:9",
        "http://localhost",
        "http://LOCALHOST:80",
        "http://localhost.:80",
        "http://[::ffff:127.0.0.1]",  # IPv4-mapped loopback stays on the host
    ],
)
def test_loopback_by_address_may_use_plain_http(url: str) -> None:
    assert apibricks.AsyncClient(api_key=KEY, base_url=url).base_url.startswith("http://")


@pytest.mark.parametrize("url", ["ftp://example.com", "api.example.com", "https://", "//x"])
def test_a_base_url_that_is_not_http_is_a_configuration_error(url: str) -> None:
    with pytest.raises(apibricks.ConfigurationError, match="base_url"):
        apibricks.AsyncClient(api_key=KEY, base_url=url)
