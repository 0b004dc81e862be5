"""Proxies: ``proxy=``/``proxy_auth=`` and the environment's, through a real forward proxy.

The proxy here is a few lines of asyncio on loopback: it records every request head it
receives, forwards the request to the sandbox (origin-form, ``Connection: close``; every
host is on loopback, so a base URL may use a name no DNS knows) and pipes the answer back.
A loopback base URL never takes the environment's proxy, so those tests name the sandbox
``sandbox.apibricks.test``. For plain http the forwarded request itself carries the key (that
is the request); the key must appear nowhere else the proxy sees.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from yarl import URL

import apibricks
from apibricks import sandbox

Facade = Callable[..., Awaitable[Any]]
LIST_PAID = lambda client: client.invoices.list_paid()  # noqa: E731
NAMED = "sandbox.apibricks.test"  # .test never resolves (RFC 6761): only a proxy reaches it


class ForwardProxy:
    """An HTTP forward proxy for plain-http targets that keeps what it was sent."""

    def __init__(self) -> None:
        self.heads: list[str] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            self.heads.append(head)
            request_line, *fields = head.split("\r\n")
            method, target, version = request_line.split(" ")
            if method == "CONNECT":  # no tunnels here: the head is what the test needs
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            url = URL(target)
            assert url.host is not None and url.port is not None
            kept = [
                field
                for field in fields
                if field and not field.lower().startswith(("proxy-", "connection:"))
            ]
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", url.port)
            forwarded = [f"{method} {url.raw_path_qs} {version}", *kept, "Connection: close"]
            upstream_writer.write(("\r\n".join(forwarded) + "\r\n\r\n").encode("latin-1"))
            await upstream_writer.drain()
            while chunk := await upstream_reader.read(65536):
                writer.write(chunk)
                await writer.drain()
            upstream_writer.close()
            with contextlib.suppress(ConnectionError):
                await upstream_writer.wait_closed()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    server = ForwardProxy()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def named_url(sandbox_url: str) -> str:
    """The sandbox under a name that is not loopback, reachable only through the proxy."""
    return str(URL(sandbox_url).with_host(NAMED))


def _assert_key_only_in_authorization(head: str, key: str) -> None:
    request_line, *fields = head.split("\r\n")
    assert key not in request_line  # not in the URL
    carrying = [field for field in fields if key in field]
    assert carrying == [f"Authorization: {key}"]


async def test_requests_go_through_the_proxy(
    facade: Facade, proxy: ForwardProxy, sandbox_server: sandbox.Sandbox
) -> None:
    key = "sk_sandbox_proxied"
    invoices = await facade(LIST_PAID, api_key=key, proxy=proxy.url)
    assert invoices
    (head,) = proxy.heads
    assert head.startswith(f"GET {sandbox_server.url}/invoices/paid HTTP/1.1\r\n")
    assert sandbox_server.requests_for(key) == 1  # it reached the sandbox through the proxy
    _assert_key_only_in_authorization(head, key)
    assert "Proxy-Authorization" not in head


async def test_proxy_auth_is_sent_to_the_proxy_and_the_key_is_not(
    facade: Facade, proxy: ForwardProxy
) -> None:
    key = "sk_sandbox_proxied_auth"
    await facade(LIST_PAID, api_key=key, proxy=proxy.url, proxy_auth=("squid", "pr0xy-pw"))
    (head,) = proxy.heads
    credentials = base64.b64encode(b"squid:pr0xy-pw").decode()
    assert f"Proxy-Authorization: Basic {credentials}\r\n" in head
    _assert_key_only_in_authorization(head, key)
    assert not any(line.startswith("CONNECT") for line in head.split("\r\n"))


async def test_an_https_tunnel_request_carries_proxy_auth_but_never_the_key(
    facade: Facade, proxy: ForwardProxy, sandbox_server: sandbox.Sandbox
) -> None:
    key = "sk_sandbox_tunnelled"
    assert sandbox_server.url is not None
    https_url = sandbox_server.url.replace("http://", "https://")
    with pytest.raises(apibricks.APIConnectionError):
        await facade(
            LIST_PAID,
            api_key=key,
            base_url=https_url,
            proxy=proxy.url,
            proxy_auth=("squid", "pr0xy-pw"),
            max_retries=0,
        )
    (head,) = proxy.heads
    assert head.startswith(f"CONNECT {URL(https_url).authority} HTTP/1.1\r\n")
    credentials = base64.b64encode(b"squid:pr0xy-pw").decode()
    assert f"Proxy-Authorization: Basic {credentials}\r\n" in head
    assert key not in head


async def test_http_proxy_from_the_environment_is_used_by_default(
    facade: Facade, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch, named_url: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    key = "sk_sandbox_env_proxied"
    assert await facade(LIST_PAID, api_key=key, base_url=named_url, allow_insecure_http=True)
    (head,) = proxy.heads
    assert head.startswith(f"GET {named_url}/invoices/paid HTTP/1.1\r\n")
    _assert_key_only_in_authorization(head, key)


@pytest.mark.parametrize(
    "no_proxy", [NAMED, "apibricks.test", ".apibricks.test", "*", f"localhost, {NAMED.upper()}"]
)
async def test_no_proxy_bypasses_the_proxy(
    facade: Facade,
    proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
    named_url: str,
    no_proxy: str,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    with pytest.raises(apibricks.APIConnectionError):  # straight to a name no DNS knows
        await facade(
            LIST_PAID,
            api_key="sk_sandbox_bypassed",
            base_url=named_url,
            allow_insecure_http=True,
            max_retries=0,
        )
    assert proxy.heads == []


async def test_trust_env_false_ignores_the_environment(
    facade: Facade, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch, named_url: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    with pytest.raises(apibricks.APIConnectionError):
        await facade(
            LIST_PAID,
            api_key="sk_sandbox_not_proxied",
            base_url=named_url,
            allow_insecure_http=True,
            trust_env=False,
            max_retries=0,
        )
    assert proxy.heads == []


async def test_a_loopback_base_url_never_takes_the_environment_proxy(
    facade: Facade, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "ALL_PROXY", "http_proxy"):
        monkeypatch.setenv(name, proxy.url)
    assert await facade(LIST_PAID, api_key="sk_sandbox_not_proxied")
    assert proxy.heads == []


async def test_proxy_settings_travel_with_the_settings(proxy: ForwardProxy) -> None:
    client = apibricks.AsyncClient(api_key="sk_sandbox_x", proxy=proxy.url, proxy_auth=("u", "p"))
    assert client.settings.proxy == proxy.url
    assert client.settings.proxy_auth == ("u", "p")
    assert "'p'" not in repr(client.settings)
