"""Every sandbox fault maps to the right error, or to a success after the right number of
attempts (counted by the server), on both facades."""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

import pytest

import apibricks
from apibricks import _retry, sandbox
from apibricks._retry import parse_retry_after, retry_waits

LIST_PAID = lambda client: client.invoices.list_paid()  # noqa: E731


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the exponential waits tiny; Retry-After waits stay real."""
    monkeypatch.setattr(_retry, "BACKOFF_BASE", 0.001)


# (key suffix, client kwargs, expected error or None for success, attempts the server sees)
TRANSIENT = [
    ("~503x2", {}, 3),
    ("~500x1", {}, 2),
    ("~502x1", {}, 2),
    ("~429r0.01x1", {}, 2),
    ("~resetx1", {}, 2),
    ("~truncatex2", {}, 3),
]

PERMANENT: list[tuple[str, dict[str, Any], type[apibricks.APIBricksError], int]] = [
    ("~503", {}, apibricks.InternalServerError, 3),
    ("~502", {"max_retries": 0}, apibricks.InternalServerError, 1),
    ("~500", {"max_retries": 4}, apibricks.InternalServerError, 5),
    ("~reset", {"max_retries": 1}, apibricks.APIConnectionError, 2),
    ("~truncate", {"max_retries": 1}, apibricks.APIConnectionError, 2),
    ("~malformed", {}, apibricks.DecodeError, 1),
    ("~wrongtype", {}, apibricks.DecodeError, 1),
    ("~429r0.01", {"max_retries": 1}, apibricks.RateLimitError, 2),
    ("~429r120", {}, apibricks.RateLimitError, 1),  # beyond retry_after_cap: raised at once
]


@pytest.mark.parametrize(("suffix", "kwargs", "attempts"), TRANSIENT)
async def test_transient_faults_are_retried_to_success(
    facade: Any, sandbox_server: sandbox.Sandbox, suffix: str, kwargs: Any, attempts: int
) -> None:
    key = f"sk_sandbox_retry{suffix}"
    invoices = await facade(LIST_PAID, api_key=key, **kwargs)
    assert invoices, "a recovered call returns the organization's invoices"
    assert all(isinstance(invoice, apibricks.Invoice) for invoice in invoices)
    assert sandbox_server.requests_for(key) == attempts


@pytest.mark.parametrize(("suffix", "kwargs", "error", "attempts"), PERMANENT)
async def test_permanent_faults_raise_typed_errors(
    facade: Any,
    sandbox_server: sandbox.Sandbox,
    suffix: str,
    kwargs: Any,
    error: type[Exception],
    attempts: int,
) -> None:
    key = f"sk_sandbox_fail{suffix}"
    with pytest.raises(error) as caught:
        await facade(LIST_PAID, api_key=key, **kwargs)
    assert sandbox_server.requests_for(key) == attempts
    assert key not in str(caught.value)
    assert key not in repr(caught.value)


async def test_timeout_is_per_attempt_and_retried(
    facade: Any, sandbox_server: sandbox.Sandbox
) -> None:
    key = "sk_sandbox_slowpoke~slow5"
    with pytest.raises(apibricks.APITimeoutError) as caught:
        await facade(LIST_PAID, api_key=key, timeout=0.2, max_retries=1)
    assert isinstance(caught.value, apibricks.APIConnectionError)
    assert isinstance(caught.value.__cause__, asyncio.TimeoutError)
    assert sandbox_server.requests_for(key) == 2


async def test_connection_refused_is_a_connection_error(facade: Any) -> None:
    server = sandbox.Sandbox()
    async with server.serve() as url:
        pass  # the port is now closed: nothing listens there
    with pytest.raises(apibricks.APIConnectionError) as caught:
        await facade(LIST_PAID, api_key="sk_sandbox_x", base_url=url, max_retries=1)
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_other_4xx_are_never_retried(
    facade: Any, sandbox_server: sandbox.Sandbox, status: int
) -> None:
    key = f"sk_sandbox_client~{status}" if status != 401 else "not-a-sandbox-key"
    with pytest.raises(apibricks.APIStatusError) as caught:
        await facade(LIST_PAID, api_key=key)
    assert caught.value.status_code == status
    assert sandbox_server.requests_for(key) == 1


async def test_retry_after_seconds_is_honoured(sandbox_server: sandbox.Sandbox) -> None:
    key = "sk_sandbox_polite~429r0.3x1"
    loop = asyncio.get_running_loop()
    async with apibricks.AsyncClient(api_key=key, base_url=sandbox_server.url) as client:  # type: ignore[attr-defined]
        started = loop.time()
        await client.invoices.list_paid()
        elapsed = loop.time() - started
    assert elapsed >= 0.3
    assert sandbox_server.requests_for(key) == 2


async def test_retry_after_http_date_is_honoured(sandbox_server: sandbox.Sandbox) -> None:
    key = "sk_sandbox_polite~429datex1"
    async with apibricks.AsyncClient(api_key=key, base_url=sandbox_server.url) as client:  # type: ignore[attr-defined]
        await client.invoices.list_paid()
    assert sandbox_server.requests_for(key) == 2


async def test_rate_limit_error_carries_retry_after(sandbox_server: sandbox.Sandbox) -> None:
    key = "sk_sandbox_busy~429r90"
    async with apibricks.AsyncClient(api_key=key, base_url=sandbox_server.url) as client:  # type: ignore[attr-defined]
        with pytest.raises(apibricks.RateLimitError) as caught:
            await client.invoices.list_paid()
    assert caught.value.retry_after == pytest.approx(90)
    assert caught.value.status_code == 429
    assert sandbox_server.requests_for(key) == 1


def test_parse_retry_after_forms() -> None:
    now = time.time()
    assert parse_retry_after({"Retry-After": "7"}) == 7
    assert parse_retry_after({"Retry-After": "1.5"}) == 1.5
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=now) == pytest.approx(30, abs=1)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after({"Retry-After": past}, now=now) == 0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    waits = retry_waits(base=0.5, cap=8.0)
    next(waits)
    error = apibricks.InternalServerError("x", status_code=503)
    ceilings = [0.5, 1, 2, 4, 8, 8, 8]
    draws = [waits.send(error) for _ in ceilings]
    for draw, ceiling in zip(draws, ceilings, strict=True):
        assert 0 <= draw <= ceiling
    rate_limited = apibricks.RateLimitError("x", status_code=429, retry_after=3.0)
    assert waits.send(rate_limited) == 3.0
