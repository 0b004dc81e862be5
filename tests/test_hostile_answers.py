"""Messages say what came back; answers that can never succeed fail at once (issue 24 item 7).

A proxy's error page shows as its ``<title>`` (or first line of visible text), never as
markup or CSS. A body that can never decode (raw deflate labelled ``deflate``, plain text
labelled ``gzip``), TLS spoken to a plain-HTTP port and a status outside 100-599 are
permanent: one request, then a typed error that says so.
"""

from __future__ import annotations

import asyncio
import html
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import apibricks
from apibricks import _retry
from apibricks._problem import status_error

KEY = "sk_live_answers_0123456789abcdef"
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n"
    "</body>\r\n</html>\r\n"
)
NGINX_504 = NGINX_502.replace("502 Bad Gateway", "504 Gateway Time-out")
CDN_403 = (
    "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><style>"
    + "body{margin:0;padding:0;font-family:-apple-system,BlinkMacSystemFont}" * 8
    + "</style><script>var x = '<b>not this</b>';</script></head><body><div class=w>"
    "<h1>Access denied</h1><p>Error 1020: you do not have access.</p></div></body></html>"
)
PORTAL = "<html><head><title>\n  Guest Wi-Fi &amp; Login\n</title></head><body>x</body></html>"


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "BACKOFF_BASE", 0.001)


class Counted:
    def __init__(self) -> None:
        self.hits = 0
        self.url = ""


@pytest.fixture
async def pages() -> AsyncIterator[Counted]:
    state = Counted()

    async def handle(request: web.Request) -> web.Response:
        state.hits += 1
        kind = request.path.split("/")[1]
        if kind == "502":
            return web.Response(status=502, text=NGINX_502, content_type="text/html")
        if kind == "504":
            return web.Response(status=504, text=NGINX_504, content_type="text/html")
        if kind == "403":
            return web.Response(status=403, text=CDN_403, content_type="text/html")
        if kind == "portal":
            return web.Response(text=PORTAL, content_type="text/html")
        if kind == "rawdeflate":
            squeeze = zlib.compressobj(wbits=-15)
            body = squeeze.compress(b"[]" * 1000) + squeeze.flush()
            return web.Response(body=body, headers={"Content-Encoding": "deflate"})
        if kind == "notgzip":
            return web.Response(body=b"[] plain text", headers={"Content-Encoding": "gzip"})
        raise AssertionError(kind)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    async with TestServer(app, host="127.0.0.1") as server:
        state.url = str(server.make_url("/"))
        yield state


async def call(facade: Any, base_url: str, **kwargs: Any) -> apibricks.APIBricksError:
    with pytest.raises(apibricks.APIBricksError) as caught:
        await facade(lambda c: c.invoices.list_paid(), api_key=KEY, base_url=base_url, **kwargs)
    return caught.value


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("502", "502 Bad Gateway (request"),
        ("504", "504 Gateway Timeout: 504 Gateway Time-out"),
        ("403", "403 Forbidden: Access denied"),
    ],
)
async def test_a_proxy_page_shows_its_title_not_its_markup(
    facade: Any, pages: Counted, kind: str, expected: str
) -> None:
    error = await call(facade, f"{pages.url}{kind}", max_retries=0)
    message = str(error) + " (request"
    assert message.startswith(expected), message
    assert "<" not in message and "\\r" not in message and "font-family" not in message


async def test_a_captive_portal_200_names_status_type_and_title(
    facade: Any, pages: Counted
) -> None:
    error = await call(facade, f"{pages.url}portal")
    assert isinstance(error, apibricks.DecodeError)
    assert str(error).startswith("200 text/html (Guest Wi-Fi & Login) is not JSON"), str(error)


async def test_a_raw_response_parses_to_the_same_errors(pages: Counted) -> None:
    """``with_raw_response``: ``.content`` keeps the page; ``parse()`` says what it is."""
    async with apibricks.AsyncClient(api_key=KEY, base_url=f"{pages.url}portal") as client:
        response = await client.invoices.with_raw_response.list_paid()
    assert response.content.decode() == PORTAL
    with pytest.raises(apibricks.DecodeError, match=r"^200 text/html \(Guest Wi-Fi & Login\)"):
        response.parse()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), max_size=80),
    css=st.text("abc{}:;-#0123456789 <>/", max_size=400),
    status=st.sampled_from([403, 404, 500, 502, 503, 504]),
)
def test_any_page_shows_its_title_or_first_text_never_markup(
    title: str, css: str, status: int
) -> None:
    page = (
        f"<!doctype html><html><head><style>{css}</style><title>{html.escape(title)}</title>"
        f"</head><body><h1>first text</h1><p>more</p></body></html>"
    )
    message = str(status_error(status, {}, page.encode()))
    shown = " ".join(title.split())
    assert message.startswith(f"{status} ")
    if shown:
        assert shown in message
    else:
        assert message.endswith(": first text"), message
    rest = message.replace(shown, "") if shown else message
    assert "<" not in rest and "{" not in rest and "more" not in rest


@pytest.mark.parametrize("kind", ["rawdeflate", "notgzip"])
async def test_a_body_that_can_never_decode_fails_at_once(
    facade: Any, pages: Counted, kind: str
) -> None:
    error = await call(facade, f"{pages.url}{kind}", max_retries=2)
    assert isinstance(error, apibricks.DecodeError), repr(error)
    assert "never decode" in str(error) and "not retried" in str(error)
    assert pages.hits == 1


async def raw_server(answer: bytes) -> tuple[asyncio.Server, list[int]]:
    """A TCP server sending ``answer`` to whatever arrives; counts connections."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await reader.read(1024)
        writer.write(answer)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0), connections


@pytest.mark.parametrize("status", [600, 999, 0, 99])
async def test_a_status_outside_100_599_fails_at_once(facade: Any, status: int) -> None:
    line = f"HTTP/1.1 {status:03d} Odd\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
    server, connections = await raw_server(line.encode())
    async with server:
        port = server.sockets[0].getsockname()[1]
        error = await call(facade, f"http://127.0.0.1:{port}", max_retries=2)
    assert type(error) is apibricks.APIStatusError, repr(error)
    assert error.status_code == status
    assert "not an HTTP status" in str(error) and "not retried" in str(error)
    assert len(connections) == 1


async def test_tls_to_a_plain_http_port_fails_at_once(facade: Any) -> None:
    answer = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    server, connections = await raw_server(answer)
    async with server:
        port = server.sockets[0].getsockname()[1]
        error = await call(facade, f"https://127.0.0.1:{port}", max_retries=2)
    assert isinstance(error, apibricks.APIConnectionError) and not error.retryable, repr(error)
    assert "does not speak TLS" in str(error) and "http://" in str(error)
    assert len(connections) == 1
