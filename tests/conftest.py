"""Shared fixtures: a real sandbox server on loopback, and both facades behind one call.

Scenario tables take the ``facade`` fixture, so every scenario runs against
`AsyncClient` and the generated `Client` alike (parametrized, never copied).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from tls_servers import TLSFront, server_context
from yarl import URL

import apibricks
from apibricks import _retry, sandbox

FACADES = ["async", "sync"]
# What the machine running the suite may set that would change where requests go or whom
# they trust: every test starts without it (a CI runner behind a proxy included).
MACHINE_NETWORK_ENV = (
    *(f"{name}_PROXY" for name in ("HTTP", "HTTPS", "ALL", "NO")),
    *(f"{name}_proxy" for name in ("http", "https", "all", "no")),
    "APIBRICKS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


def pytest_configure(config: pytest.Config) -> None:
    """Let the CLI and sandbox processes the tests start see the Ctrl-C (SIGINT) sent to them.

    A child inherits an ignored SIGINT, and a runner under ``nohup`` or in a shell's
    background job ignores it: the child would never stop. Each xdist worker runs this too.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _no_network_settings_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MACHINE_NETWORK_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def request_starts() -> tuple[aiohttp.TraceConfig, list[float]]:
    """A trace config for an aiohttp session, and when each of its requests started.

    Times are ``time.monotonic()``, the clock of asyncio's ``loop.time()``.
    """
    starts: list[float] = []

    async def on_request_start(*_: Any) -> None:
        starts.append(time.monotonic())

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    return trace, starts


@pytest.fixture
async def sandbox_server() -> AsyncIterator[sandbox.Sandbox]:
    """A fresh sandbox with its stats, serving on loopback (``sandbox_server.url``)."""
    server = sandbox.Sandbox()
    async with server.serve():
        yield server


@pytest.fixture
def sandbox_url(sandbox_server: sandbox.Sandbox) -> str:
    assert sandbox_server.url is not None
    return sandbox_server.url


ListPaid = Callable[..., Awaitable[list[apibricks.Invoice]]]


@pytest.fixture(params=FACADES)
def facade(request: pytest.FixtureRequest, sandbox_url: str) -> Callable[..., Awaitable[Any]]:
    """``await facade(lambda client: client.invoices.list_paid(), api_key=..., **kwargs)``.

    The lambda is written once, the way users write it for the async client; on the sync
    facade its result is already the value.
    """

    async def call(operation: Callable[[Any], Any], **client_kwargs: Any) -> Any:
        client_kwargs.setdefault("base_url", sandbox_url)
        if request.param == "async":
            async with apibricks.AsyncClient(**client_kwargs) as client:
                return await operation(client)

        def blocking() -> Any:
            with apibricks.Client(**client_kwargs) as client:
                return operation(client)

        return await asyncio.to_thread(blocking)

    call.kind = request.param  # type: ignore[attr-defined]
    return call


# -- a company CA and the sandbox behind TLS (test_tls, test_cli_tls, test_env_proxy) ----


@pytest.fixture
def server() -> Iterator[sandbox.Sandbox]:
    """A sandbox (2 invoices per organization) serving from its own thread: reachable from
    any thread and any loop, as the sync facade needs (a test module may define its own)."""
    sb = sandbox.Sandbox(invoices_per_org=2)
    with sb.serve_in_thread() as url:
        sb.test_url = url  # type: ignore[attr-defined]
        yield sb


@pytest.fixture
def url(server: sandbox.Sandbox) -> str:
    test_url: str = server.test_url  # type: ignore[attr-defined]
    return test_url


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "company-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
async def front(ca: trustme.CA, sandbox_server: sandbox.Sandbox) -> AsyncIterator[TLSFront]:
    """The sandbox behind a TLS front whose certificate ``ca`` signed."""
    assert sandbox_server.url is not None
    port = URL(sandbox_server.url).port
    assert port is not None
    server = TLSFront(port, server_context(ca))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries a millisecond apart: for tests about what is retried, not when."""
    monkeypatch.setattr(_retry, "BACKOFF_BASE", 0.001)
