"""``client.invoices.with_raw_response.list_paid()``: the HTTP response, then ``.parse()``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import apibricks
from apibricks import sandbox

Facade = Callable[..., Awaitable[Any]]


async def _both(client: Any) -> tuple[Any, Any]:
    raw = client.invoices.with_raw_response.list_paid()
    plain = client.invoices.list_paid()
    if hasattr(raw, "__await__"):
        return await raw, await plain
    return raw, plain


async def test_raw_response_fields(facade: Facade, sandbox_url: str) -> None:
    key = "sk_sandbox_raw"
    raw, plain = await facade(_both_sync_or_async, api_key=key)
    assert isinstance(raw, apibricks.APIResponse)
    assert raw.status_code == 200
    assert raw.headers["content-type"] == raw.headers["Content-Type"]
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.request_id is not None
    assert raw.request_id in (raw.headers.get("Request-Id"), raw.headers.get("X-Request-Id"))
    assert raw.url == f"{sandbox_url}/invoices/paid"
    assert isinstance(raw.elapsed, float) and raw.elapsed > 0
    assert raw.retries_taken == 0
    assert isinstance(raw.content, bytes)
    assert isinstance(json.loads(raw.content), list)
    parsed = raw.parse()
    assert parsed == plain
    assert all(isinstance(invoice, apibricks.Invoice) for invoice in parsed)
    assert raw.parse() is parsed  # decoded once
    assert key not in repr(raw)


def _both_sync_or_async(client: Any) -> Any:
    if isinstance(client, apibricks.AsyncClient):
        return _both(client)
    return (client.invoices.with_raw_response.list_paid(), client.invoices.list_paid())


async def test_retries_taken_counts_failed_attempts(
    facade: Facade, sandbox_server: sandbox.Sandbox
) -> None:
    key = "sk_sandbox_raw_retry~503r0x2"
    raw = await facade(lambda client: client.invoices.with_raw_response.list_paid(), api_key=key)
    assert raw.status_code == 200
    assert raw.retries_taken == 2
    assert sandbox_server.requests_for(key) == 3


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("~401", apibricks.AuthenticationError),
        ("~404", apibricks.NotFoundError),
        ("~500", apibricks.InternalServerError),
    ],
)
async def test_errors_raise_as_in_the_plain_call(
    facade: Facade, fault: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await facade(
            lambda client: client.invoices.with_raw_response.list_paid(),
            api_key=f"sk_sandbox_raw_error{fault}",
            max_retries=0,
        )


async def test_a_bad_body_raises_decode_error_on_parse(facade: Facade) -> None:
    raw = await facade(
        lambda client: client.invoices.with_raw_response.list_paid(),
        api_key="sk_sandbox_raw_bad~wrongtype",
    )
    assert raw.status_code == 200
    with pytest.raises(apibricks.DecodeError, match="creditBalance"):
        raw.parse()
