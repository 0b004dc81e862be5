"""AsyncClient configuration, requests on the wire, errors, lifecycle and logging."""

from __future__ import annotations

import asyncio
import logging
import platform
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import apibricks
from apibricks import sandbox

LIST_PAID = lambda client: client.invoices.list_paid()  # noqa: E731
KEY = "sk_sandbox_client"


async def test_list_paid_returns_the_organizations_invoices(facade: Any) -> None:
    invoices = await facade(LIST_PAID, api_key=KEY)
    assert invoices
    assert all(isinstance(invoice, apibricks.Invoice) for invoice in invoices)
    organizations = {id(invoice.organization) for invoice in invoices}
    assert len(organizations) == 1, "one response shares one Organization instance"
    assert all(invoice.id_organization == invoices[0].organization.id for invoice in invoices)


async def test_request_headers(facade: Any, sandbox_server: sandbox.Sandbox) -> None:
    await facade(LIST_PAID, api_key=KEY, default_headers={"X-Team": "finance"})
    headers = sandbox_server.last_headers
    assert headers["Authorization"] == KEY, "the raw key, no scheme word"
    assert headers["Accept"] == "application/json"
    assert headers["Accept-Encoding"] == "gzip"
    assert headers["X-Team"] == "finance"
    assert headers["User-Agent"] == (
        f"apibricks/{apibricks.__version__} aiohttp/{aiohttp.__version__} "
        f"python/{platform.python_version()}"
    )


async def test_settings_come_from_the_environment(
    facade: Any, sandbox_server: sandbox.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APIBRICKS_API_KEY", "sk_sandbox_fromenv")
    monkeypatch.setenv("APIBRICKS_BASE_URL", sandbox_server.url)  # type: ignore[attr-defined]
    invoices = await facade(LIST_PAID, base_url=None)
    assert invoices
    assert sandbox_server.requests_for("sk_sandbox_fromenv") == 1


def test_default_base_url_is_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APIBRICKS_BASE_URL", raising=False)
    client = apibricks.AsyncClient(api_key=KEY)
    assert client.base_url == "https://api-console.apibricks.io"
    assert client.max_retries == 2


@pytest.fixture
async def prefix_server() -> AsyncIterator[TestServer]:
    """A server that only answers under a path prefix, like an API gateway."""

    async def paid(request: web.Request) -> web.Response:
        return web.json_response([], headers={"X-Seen-Path": request.path})

    app = web.Application()
    app.router.add_get("/gateway/v1/invoices/paid", paid)
    async with TestServer(app, host="127.0.0.1") as server:
        yield server


async def test_base_url_path_prefix_is_kept(facade: Any, prefix_server: TestServer) -> None:
    base = str(prefix_server.make_url("/gateway/v1/"))
    assert await facade(LIST_PAID, api_key=KEY, base_url=base) == []
    base = str(prefix_server.make_url("/gateway/v1"))
    assert await facade(LIST_PAID, api_key=KEY, base_url=base) == []


async def test_missing_key_names_both_ways_to_give_one(
    facade: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("APIBRICKS_API_KEY", raising=False)
    with pytest.raises(apibricks.APIKeyError) as caught:
        await facade(LIST_PAID)
    assert "api_key=" in str(caught.value)
    assert "APIBRICKS_API_KEY" in str(caught.value)


async def test_status_error_carries_the_problem_details(
    facade: Any, sandbox_server: sandbox.Sandbox
) -> None:
    key = "sk_unknown_organization"
    with pytest.raises(apibricks.AuthenticationError) as caught:
        await facade(LIST_PAID, api_key=key)
    error = caught.value
    assert error.status_code == 401
    assert isinstance(error.body, dict)
    assert error.body["status"] == 401
    assert error.request_id == error.body["traceId"]
    assert error.body["title"] in str(error)
    assert error.headers["Content-Type"].startswith("application/problem+json")
    assert key not in str(error) and key not in repr(error)


async def test_not_found_and_method_errors(sandbox_server: sandbox.Sandbox) -> None:
    url = sandbox_server.url
    async with apibricks.AsyncClient(api_key=KEY, base_url=url + "/nowhere") as client:
        with pytest.raises(apibricks.NotFoundError) as caught:
            await client.invoices.list_paid()
    assert caught.value.status_code == 404


async def test_with_api_key_is_a_view_on_the_same_pool(sandbox_server: sandbox.Sandbox) -> None:
    url = sandbox_server.url
    async with apibricks.AsyncClient(base_url=url, timeout=5, max_retries=1) as client:
        first = client.with_api_key("sk_sandbox_one")
        second = client.with_api_key("sk_sandbox_two")
        one, two = await asyncio.gather(first.invoices.list_paid(), second.invoices.list_paid())
        assert one[0].organization.id != two[0].organization.id
        assert first._transport is client._transport is second._transport
        assert (first.timeout, first.max_retries, first.base_url) == (5, 1, client.base_url)
        await first.close()  # a view does not own the pool
        assert not client.is_closed
        assert await second.invoices.list_paid() == two
    assert client.is_closed


async def test_session_is_created_lazily_and_closed(sandbox_server: sandbox.Sandbox) -> None:
    client = apibricks.AsyncClient(api_key=KEY, base_url=sandbox_server.url)  # type: ignore[attr-defined]
    assert client._transport._session is None
    await client.invoices.list_paid()
    session = client._transport._session
    assert session is not None and not session.closed
    await client.close()
    assert session.closed
    with pytest.raises(apibricks.APIBricksError, match="closed"):
        await client.invoices.list_paid()
    await client.close()  # idempotent


async def test_injected_session_stays_open(sandbox_server: sandbox.Sandbox) -> None:
    async with aiohttp.ClientSession() as session:
        url = sandbox_server.url
        async with apibricks.AsyncClient(api_key=KEY, base_url=url, session=session) as client:
            assert await client.invoices.list_paid()
        assert not session.closed, "an injected session is the caller's to close"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"timeout": 0}, "timeout"),
        ({"base_url": "ftp://example.com"}, "http"),
        ({"base_url": "not a url"}, "http"),
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apibricks.AsyncClient(api_key=KEY, **kwargs)


async def test_debug_log_has_one_line_per_attempt_and_each_wait(
    sandbox_server: sandbox.Sandbox, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    from apibricks import _retry

    monkeypatch.setattr(_retry, "BACKOFF_BASE", 0.001)
    key = "sk_sandbox_logged~503x1"
    caplog.set_level(logging.DEBUG, logger="apibricks")
    url = sandbox_server.url
    async with apibricks.AsyncClient(api_key=key, base_url=url) as client:
        await client.invoices.list_paid()
    lines = [r.getMessage() for r in caplog.records if r.name == "apibricks"]
    attempts = [line for line in lines if line.startswith("GET ")]
    assert len(attempts) == 2
    assert "-> 503" in attempts[0] and "attempt 1" in attempts[0]
    assert "-> 200" in attempts[1] and "attempt 2" in attempts[1]
    assert f"{url}/invoices/paid" in attempts[0]
    assert "request id" in attempts[0] and "request id -" not in attempts[0]
    assert any(line.startswith("retrying in ") for line in lines)
    assert all(key not in line for line in caplog.text.splitlines())


async def test_error_headers_are_case_insensitive(sandbox_server: sandbox.Sandbox) -> None:
    async with apibricks.AsyncClient(
        api_key="sk_sandbox_limited~429r90", base_url=sandbox_server.url
    ) as client:
        with pytest.raises(apibricks.RateLimitError) as caught:
            await client.invoices.list_paid()
    assert caught.value.headers["retry-after"] == caught.value.headers["Retry-After"] == "90"
