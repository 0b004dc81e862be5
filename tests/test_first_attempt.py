"""The retry machinery costs nothing on the first attempt: the retry decision is asked only
after an attempt failed, and then counts that failure (attempts and waits stay as configured)."""

from __future__ import annotations

from typing import Any

import pytest

import apibricks
from apibricks import _retry, sandbox
from apibricks._async import _transport


@pytest.fixture
def backoff_entries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The retries spent so far, each time the attempt loop asked what follows a failure."""
    entries: list[int] = []
    real = _retry.next_attempt

    def counting(error: BaseException, **state: Any) -> _retry.Next | None:
        entries.append(state["retries"])
        return real(error, **state)

    monkeypatch.setattr(_transport, "next_attempt", counting)
    monkeypatch.setattr(_retry, "BACKOFF_BASE", 0.001)
    return entries


async def test_a_successful_first_attempt_never_enters_backoff(
    sandbox_server: sandbox.Sandbox, backoff_entries: list[int]
) -> None:
    async with apibricks.AsyncClient(api_key="sk_sandbox_fast", base_url=sandbox_server.url) as c:
        for _ in range(3):
            assert await c.invoices.list_paid()
    assert backoff_entries == []
    assert sandbox_server.requests_for("sk_sandbox_fast") == 3


@pytest.mark.parametrize(("suffix", "max_retries", "attempts"), [("~503x2", 2, 3), ("~503", 2, 3)])
async def test_after_a_failure_backoff_counts_the_first_attempt(
    sandbox_server: sandbox.Sandbox,
    backoff_entries: list[int],
    suffix: str,
    max_retries: int,
    attempts: int,
) -> None:
    key = f"sk_sandbox_first{suffix}"
    async with apibricks.AsyncClient(
        api_key=key, base_url=sandbox_server.url, max_retries=max_retries
    ) as client:
        try:
            assert await client.invoices.list_paid()
        except apibricks.InternalServerError:
            assert suffix == "~503"  # never recovers: max_retries + 1 attempts, then raised
    # one decision per failure, each counting the retries spent before it
    failures = attempts if suffix == "~503" else attempts - 1
    assert backoff_entries == list(range(failures))
    assert sandbox_server.requests_for(key) == attempts


async def test_a_permanent_error_is_raised_after_one_attempt(
    sandbox_server: sandbox.Sandbox, backoff_entries: list[int]
) -> None:
    key = "sk_sandbox_first~malformed"
    async with apibricks.AsyncClient(api_key=key, base_url=sandbox_server.url) as client:
        with pytest.raises(apibricks.DecodeError):
            await client.invoices.list_paid()
    assert sandbox_server.requests_for(key) == 1
