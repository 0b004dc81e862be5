"""Every sandbox fault maps to the right error, or to a success after the right number of
attempts (counted by the server), on both facades."""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import apibricks
from apibricks import _retry, sandbox
from apibricks._problem import status_error
from apibricks._retry import Next, next_attempt, parse_retry_after, retry_wait

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


def test_backoff_is_full_jitter_under_an_exponential_ceiling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_retry, "BACKOFF_BASE", 0.5)
    error = apibricks.InternalServerError("x", status_code=503)
    ceilings = [0.5, 1, 2, 4, 8, 8, 8]
    for retry, ceiling in enumerate(ceilings):
        assert 0 <= retry_wait(error, retry) <= ceiling
    rate_limited = apibricks.RateLimitError("x", status_code=429, retry_after=3.0)
    assert retry_wait(rate_limited, 6) == 3.0


STATUSES = st.sampled_from([400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 504])
WAITS = st.floats(0, 1000, allow_nan=False)


@st.composite
def failures(draw: st.DrawFn) -> apibricks.APIBricksError:
    """Any failure an attempt can end in: a status answer (built as the transport builds
    it, with or without Retry-After), a connection error that heals or not, a timeout, a
    refused redirect, a bad body."""
    kind = draw(st.sampled_from(["status", "connection", "timeout", "redirect", "decode"]))
    if kind == "status":
        retry_after = draw(st.none() | WAITS)
        headers = {} if retry_after is None else {"Retry-After": repr(retry_after)}
        return status_error(draw(STATUSES), headers, b"")
    if kind == "connection":
        return apibricks.APIConnectionError("x", retryable=draw(st.booleans()))
    if kind == "timeout":
        return apibricks.APITimeoutError("x")
    if kind == "redirect":
        return apibricks.RedirectError("x", status_code=302)
    return apibricks.DecodeError("x", path="$")


@given(
    error=failures(),
    retries=st.integers(0, 8),
    max_retries=st.integers(0, 8),
    cap=WAITS,
    free_resend=st.none() | st.floats(0, 1),
)
def test_after_any_failure_the_decision_follows_the_documented_rules(
    error: apibricks.APIBricksError,
    retries: int,
    max_retries: int,
    cap: float,
    free_resend: float | None,
) -> None:
    then = next_attempt(
        error,
        retries=retries,
        max_retries=max_retries,
        retry_after_cap=cap,
        free_resend=free_resend,
    )
    retry_after = getattr(error, "retry_after", None)
    if free_resend is not None:  # the fan-out's pace caused it: resent, whatever else holds
        assert then == Next(free_resend, free=True)
    elif retries >= max_retries or not _retry.is_retryable(error):
        assert then is None
    elif retry_after is not None:  # obeyed exactly, or not at all beyond the cap
        assert then == (None if retry_after > cap else Next(retry_after, free=False))
    else:
        assert then is not None and not then.free
        throttled = isinstance(error, apibricks.RateLimitError)
        base = _retry.THROTTLE_BACKOFF_BASE if throttled else _retry.BACKOFF_BASE
        assert 0 <= then.wait <= min(_retry.BACKOFF_CAP, base * 2**retries)


@given(max_retries=st.integers(0, 8), free=st.lists(st.booleans(), max_size=30))
def test_a_call_spends_exactly_its_retries_and_free_resends_spend_none(
    max_retries: int, free: list[bool]
) -> None:
    """Failures that always heal (a 503): however many free resends come between them,
    the call makes ``max_retries`` paid retries, then gives up."""
    error = status_error(503, {}, b"")
    retries = paid = 0
    resends = iter(free)
    while True:
        then = next_attempt(
            error,
            retries=retries,
            max_retries=max_retries,
            retry_after_cap=60.0,
            free_resend=0.0 if next(resends, False) else None,
        )
        if then is None:
            break
        if not then.free:
            retries += 1
            paid += 1
    assert paid == max_retries
