"""Fan-out across many organizations: bounded, streamed, nothing lost, nothing left behind.

Real HTTP against the sandbox on loopback. The sandbox serves from its own thread and
loop, so ``asyncio.all_tasks()`` here shows only the client's tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

import apibricks
from apibricks import _retry, sandbox
from apibricks._outcome import OperationError, Progress

LIST_PAID = lambda org: org.invoices.list_paid()  # noqa: E731


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny exponential waits; Retry-After waits stay real."""
    monkeypatch.setattr(_retry, "BACKOFF_BASE", 0.001)


@pytest.fixture(autouse=True)
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """Fail a test whose loop reports anything ("Task exception was never retrieved", ...)."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    yield seen
    gc.collect()
    await asyncio.sleep(0)
    loop.set_exception_handler(None)
    assert not seen, seen


@pytest.fixture
def server() -> Iterator[sandbox.Sandbox]:
    """A sandbox with 20 ms latency and 2 invoices per organization, on its own thread."""
    sb = sandbox.Sandbox(invoices_per_org=2, latency=0.02)
    with sb.serve_in_thread() as url:
        sb.test_url = url  # type: ignore[attr-defined]
        yield sb


@pytest.fixture
async def client(server: sandbox.Sandbox) -> AsyncIterator[apibricks.AsyncClient]:
    async with apibricks.AsyncClient(base_url=server.test_url) as c:  # type: ignore[attr-defined]
        yield c


def fan_out_tasks() -> set[asyncio.Task[Any]]:
    """Every task but the test's own (the server lives on another loop)."""
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def collect(stream: Any) -> list[apibricks.Outcome[Any]]:
    async with contextlib.aclosing(stream) as outcomes:
        return [outcome async for outcome in outcomes]


async def test_every_input_accounted_for_exactly_once(
    client: apibricks.AsyncClient, server: sandbox.Sandbox
) -> None:
    keys: list[str] = []
    expected: dict[int, type[apibricks.APIBricksError] | None] = {}

    def add(key: str, error: type[apibricks.APIBricksError] | None) -> None:
        expected[len(keys)] = error
        keys.append(key)

    for i in range(60):
        add(f"sk_sandbox_ok{i}", None)
        add(f"sk_sandbox_ok{i}", None)  # duplicates are positions of their own
        add(f"not_a_sandbox_key_{i}", apibricks.AuthenticationError)
        add(f"sk_sandbox_flaky{i}~503x2", None)
        add(f"sk_sandbox_limited{i}~429r0.05x1", None)
    for i in range(20):
        add(f"sk_sandbox_slow{i}~latency150", None)
        add(f"sk_sandbox_down{i}~500", apibricks.InternalServerError)
        add(f"sk_sandbox_bad{i}~wrongtype", apibricks.DecodeError)
    add("sk_sandbox_line\nbreak", apibricks.APIKeyError)
    add("", apibricks.APIKeyError)

    outcomes = await collect(client.fan_out(keys, LIST_PAID, concurrency=32))

    assert sorted(o.index for o in outcomes) == list(range(len(keys)))
    for outcome in outcomes:
        assert outcome.key is keys[outcome.index]
        error = expected[outcome.index]
        if error is None:
            assert outcome.ok and outcome.error is None, outcome
            assert outcome.value and len(outcome.value) == 2
        else:
            assert not outcome.ok and type(outcome.error) is error, outcome
            assert outcome.value is None
    assert server.requests_for("sk_sandbox_flaky7~503x2") == 3
    assert server.requests_for("sk_sandbox_limited7~429r0.05x1") == 2
    assert server.requests_for("sk_sandbox_down3~500") == 3  # retried, then reported


async def test_a_key_with_a_line_break_is_refused_without_a_request(
    client: apibricks.AsyncClient, server: sandbox.Sandbox
) -> None:
    keys = ["sk_sandbox_a", "sk_sandbox_evil\nX-Injected: 1", "sk_sandbox_b"]
    outcomes = {o.index: o for o in await collect(client.fan_out(keys, LIST_PAID))}
    assert outcomes[0].ok and outcomes[2].ok
    assert isinstance(outcomes[1].error, apibricks.APIKeyError)
    assert server.requests_for(keys[1]) == 0
    assert server.total_requests == 2


@pytest.mark.parametrize("concurrency", [1, 7, 50])
async def test_the_bound_is_exact_and_fully_used(
    client: apibricks.AsyncClient, server: sandbox.Sandbox, concurrency: int
) -> None:
    # Long enough server latency that a loaded CI machine still gets them all started.
    keys = [f"sk_sandbox_bound{i}~latency200" for i in range(concurrency * 3)]
    outcomes = await collect(client.fan_out(keys, LIST_PAID, concurrency=concurrency))
    assert len(outcomes) == len(keys) and all(o.ok for o in outcomes)
    assert server.peak_in_flight == concurrency


async def test_concurrency_above_the_pool_is_refused_not_silently_capped(
    server: sandbox.Sandbox,
) -> None:
    url = server.test_url  # type: ignore[attr-defined]
    async with apibricks.AsyncClient(base_url=url, max_connections=10) as small:
        with pytest.raises(ValueError, match=r"max_connections=10"):
            await collect(small.fan_out(["sk_sandbox_a"], LIST_PAID, concurrency=11))
        assert len(await collect(small.fan_out(["sk_sandbox_a"], LIST_PAID, concurrency=10))) == 1
    async with apibricks.AsyncClient(base_url=url, max_connections=0) as unlimited:
        keys = [f"sk_sandbox_wide{i}~latency500" for i in range(300)]
        outcomes = await collect(unlimited.fan_out(keys, LIST_PAID, concurrency=150))
        assert len(outcomes) == 300 and server.peak_in_flight == 150


async def test_a_closed_client_fails_once_not_per_key(server: sandbox.Sandbox) -> None:
    client = apibricks.AsyncClient(base_url=server.test_url)  # type: ignore[attr-defined]
    await client.close()
    with pytest.raises(apibricks.APIBricksError, match="closed"):
        await collect(client.fan_out(["sk_sandbox_a", "sk_sandbox_b"], LIST_PAID))


async def test_an_injected_sessions_pool_is_checked_too(server: sandbox.Sandbox) -> None:
    connector = aiohttp.TCPConnector(limit=50, limit_per_host=4)
    async with aiohttp.ClientSession(connector=connector) as session:
        url = server.test_url  # type: ignore[attr-defined]
        client = apibricks.AsyncClient(base_url=url, session=session)
        with pytest.raises(ValueError, match=r"max_connections=4\b"):
            await collect(client.fan_out(["sk_sandbox_a"], LIST_PAID, concurrency=5))
        assert len(await collect(client.fan_out(["sk_sandbox_a"], LIST_PAID, concurrency=4))) == 1
        await client.close()


@pytest.mark.parametrize("concurrency", [0, -1, 2.5, True])
async def test_invalid_concurrency(client: apibricks.AsyncClient, concurrency: Any) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        await collect(client.fan_out(["sk_sandbox_a"], LIST_PAID, concurrency=concurrency))


async def test_a_single_string_is_not_taken_for_many_keys(client: apibricks.AsyncClient) -> None:
    with pytest.raises(TypeError, match="iterable of API keys"):
        await collect(client.fan_out("sk_sandbox_a", LIST_PAID))


@pytest.mark.parametrize("straggler", ["~slow2", "~429r2x1"])
async def test_outcomes_stream_in_completion_order(
    client: apibricks.AsyncClient, straggler: str
) -> None:
    """A slow or rate-limited organization holds back only itself."""
    keys = [f"sk_sandbox_straggler{straggler}"] + [f"sk_sandbox_fast{i}" for i in range(40)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    arrivals: list[tuple[int, float]] = []
    async with contextlib.aclosing(client.fan_out(keys, LIST_PAID, concurrency=8)) as outcomes:
        async for outcome in outcomes:
            assert outcome.ok
            arrivals.append((outcome.index, loop.time() - started))
    assert arrivals[-1][0] == 0
    # Measured against the straggler, not the clock: a loaded machine (parallel workers)
    # may take a second over the fast forty, but they must not arrive together with it.
    fast_done, straggler_done = arrivals[-2][1], arrivals[-1][1]
    assert straggler_done - fast_done > 0.5, "the fast organizations waited for the slow one"


async def test_break_cancels_in_flight_requests_and_the_client_stays_usable(
    client: apibricks.AsyncClient, server: sandbox.Sandbox
) -> None:
    keys = ["sk_sandbox_quick"] + [f"sk_sandbox_stuck{i}~slow30" for i in range(20)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with contextlib.aclosing(client.fan_out(keys, LIST_PAID, concurrency=8)) as outcomes:
        async for outcome in outcomes:
            assert outcome.index == 0
            while server.in_flight < 7:  # noqa: ASYNC110 - the others are really in flight
                await asyncio.sleep(0.005)
            break
    assert not fan_out_tasks()
    assert loop.time() - started < 5
    assert await client.with_api_key("sk_sandbox_after").invoices.list_paid()


async def test_an_exception_in_the_consumer_cancels_in_flight_requests(
    client: apibricks.AsyncClient,
) -> None:
    keys = ["sk_sandbox_quick"] + [f"sk_sandbox_stuck{i}~slow30" for i in range(20)]

    async def consume() -> None:
        async with contextlib.aclosing(client.fan_out(keys, LIST_PAID, concurrency=8)) as outs:
            async for _ in outs:
                raise RuntimeError("consumer bug")

    with pytest.raises(RuntimeError, match="consumer bug"):
        await consume()
    assert not fan_out_tasks()
    assert await client.with_api_key("sk_sandbox_after").invoices.list_paid()


async def test_cancelling_the_consumer_cancels_in_flight_requests(
    client: apibricks.AsyncClient, server: sandbox.Sandbox
) -> None:
    keys = [f"sk_sandbox_stuck{i}~slow30" for i in range(20)]

    async def consume() -> None:
        async with contextlib.aclosing(client.fan_out(keys, LIST_PAID, concurrency=8)) as outs:
            async for _ in outs:
                pass

    task = asyncio.create_task(consume())
    while server.in_flight < 8:  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    assert task in done and task.cancelled()
    assert not fan_out_tasks()
    assert await client.with_api_key("sk_sandbox_after").invoices.list_paid()


async def test_an_abandoned_generator_is_cleaned_up_when_collected(
    client: apibricks.AsyncClient, server: sandbox.Sandbox
) -> None:
    """Without aclosing, asyncio closes the generator soon after its last reference goes."""
    keys = ["sk_sandbox_quick"] + [f"sk_sandbox_stuck{i}~slow30" for i in range(20)]
    async for _ in client.fan_out(keys, LIST_PAID, concurrency=8):
        while server.in_flight < 7:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        break
    for _ in range(200):
        if not fan_out_tasks():
            break
        await asyncio.sleep(0.01)
    assert not fan_out_tasks()
    assert await client.with_api_key("sk_sandbox_after").invoices.list_paid()


async def test_keys_are_pulled_lazily(client: apibricks.AsyncClient) -> None:
    pulled = 0

    def keys() -> Iterator[str]:
        nonlocal pulled
        for i in range(100_000):
            pulled += 1
            yield f"sk_sandbox_lazy{i % 50}"

    concurrency, received = 10, 0
    async with contextlib.aclosing(client.fan_out(keys(), LIST_PAID, concurrency=concurrency)) as s:
        async for _ in s:
            received += 1
            assert pulled <= received + concurrency
            if received == 30:
                break
    assert pulled <= 30 + concurrency


async def test_an_error_in_the_key_iterable_comes_after_the_started_outcomes(
    client: apibricks.AsyncClient,
) -> None:
    def keys() -> Iterator[str]:
        yield from (f"sk_sandbox_it{i}" for i in range(5))
        raise LookupError("key store went away")

    seen: list[apibricks.Outcome[Any]] = []

    async def consume() -> None:
        async with contextlib.aclosing(client.fan_out(keys(), LIST_PAID)) as outcomes:
            async for outcome in outcomes:
                seen.append(outcome)

    with pytest.raises(LookupError, match="key store"):
        await consume()
    assert sorted(o.index for o in seen) == [0, 1, 2, 3, 4]


async def test_an_operation_bug_becomes_that_keys_outcome(client: apibricks.AsyncClient) -> None:
    async def operation(org: apibricks.AsyncClient) -> int:
        invoices = await org.invoices.list_paid()
        if invoices[0].organization.id.int % 2 == 0 or org is None:
            return len(invoices)
        return len(invoices) // 0

    keys = [f"sk_sandbox_bug{i}" for i in range(20)]
    outcomes = await collect(client.fan_out(keys, operation))
    broken = [o for o in outcomes if not o.ok]
    assert len(outcomes) == 20 and 0 < len(broken) < 20
    for outcome in broken:
        assert isinstance(outcome.error, OperationError)
        assert isinstance(outcome.error.__cause__, ZeroDivisionError)
        assert "ZeroDivisionError" in str(outcome.error)
        with pytest.raises(OperationError):
            outcome.unwrap()
    assert all(o.unwrap() == 2 for o in outcomes if o.ok)


async def test_rate_limit_spaces_the_requests(
    server: sandbox.Sandbox, request_starts: tuple[aiohttp.TraceConfig, list[float]]
) -> None:
    """``rate_limit`` counts requests (what a server's limiter counts), retries included."""
    trace, starts = request_starts
    loop = asyncio.get_running_loop()
    n, rate = 13, 40.0  # requests: 10 keys + one key answered 500, 500, 200
    keys = [f"sk_sandbox_rate{i}" for i in range(10)] + ["sk_sandbox_rate~500x2"]
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        url = server.test_url  # type: ignore[attr-defined]
        async with apibricks.AsyncClient(base_url=url, session=session) as client:
            began = loop.time()
            outcomes = await collect(
                client.fan_out(keys, LIST_PAID, concurrency=12, rate_limit=rate)
            )
    assert all(o.ok for o in outcomes) and len(outcomes) == 11
    assert len(starts) == n
    assert loop.time() - began >= (n - 1) / rate
    # Starts sit on a fixed 1/rate grid: a late wake-up never lets a later start run early.
    assert max(starts) - min(starts) >= (n - 1) / rate - 1e-3


@pytest.mark.parametrize("rate", [0, -1.0, float("inf")])
async def test_invalid_rate_limit(client: apibricks.AsyncClient, rate: float) -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        await collect(client.fan_out(["sk_sandbox_a"], LIST_PAID, rate_limit=rate))


async def test_progress_counts(client: apibricks.AsyncClient) -> None:
    keys = [f"sk_sandbox_p{i}" for i in range(10)] + ["nope1", "nope2"]
    ticks: list[Progress] = []
    await collect(client.fan_out(keys, LIST_PAID, on_progress=ticks.append))
    assert [t.done for t in ticks] == list(range(1, 13))
    assert {t.total for t in ticks} == {12}
    assert ticks[-1].errors == 2

    ticks.clear()
    await collect(client.fan_out(iter(keys), LIST_PAID, on_progress=ticks.append))
    assert len(ticks) == 12 and {t.total for t in ticks} == {None}


async def test_outcome_repr_never_shows_the_key() -> None:
    key = "sk_live_0123456789abcdefSECRET"
    ok = apibricks.Outcome(0, key, value=[1])
    failed: apibricks.Outcome[list[int]] = apibricks.Outcome(
        1, key, error=apibricks.APIKeyError("refused")
    )
    for outcome in (ok, failed):
        assert key not in repr(outcome) and "…CRET" in repr(outcome)
    assert ok.ok and ok.unwrap() == [1]
    assert not failed.ok
    with pytest.raises(apibricks.APIKeyError):
        failed.unwrap()


async def test_paid_invoices_report(client: apibricks.AsyncClient) -> None:
    keys = ["sk_sandbox_r1", "not_valid", "sk_sandbox_r2~n5", "sk_sandbox_r1", "sk_sandbox_r3~n0"]
    report = await client.paid_invoices_by_organization(keys, concurrency=4)

    assert [e.index for e in report.entries] == [0, 1, 2, 3, 4]
    assert [e.ok for e in report] == [True, False, True, True, True]
    assert [len(e.invoices) for e in report] == [2, 0, 5, 2, 0]
    assert report.failures == (report.entries[1],)
    assert isinstance(report.failures[0].error, apibricks.AuthenticationError)
    assert not report.ok and len(report) == 5
    first, _, second, duplicate, empty = report.entries
    assert first.organization is not None and first.organization == duplicate.organization
    assert empty.organization is None and empty.total_usd_cents == 0
    assert first.total_usd_cents == sum(i.amount_usd_cents for i in first.invoices)
    # the duplicate key is one organization: its invoices count once in the totals
    assert report.invoice_count == 7
    assert report.total_usd_cents == first.total_usd_cents + second.total_usd_cents
    assert "not_valid" not in repr(report) + repr(report.entries)

    clean = await client.paid_invoices_by_organization(["sk_sandbox_r1"])
    assert clean.ok and clean.failures == ()


@pytest.fixture
def other_server() -> Iterator[str]:
    """A second sandbox (another origin) for a client the operation calls on the side."""
    with sandbox.Sandbox(invoices_per_org=1).serve_in_thread() as url:
        yield url


async def test_another_clients_429s_do_not_steer_the_fan_outs_pace(
    client: apibricks.AsyncClient, other_server: str
) -> None:
    """The pace belongs to the fan-out's own key views: a different client called inside
    the operation (another server, always 429) is not heard by it."""
    keys = [f"sk_sandbox_steer{i}" for i in range(24)]
    ticks: list[Progress] = []
    async with apibricks.AsyncClient(
        api_key="sk_sandbox_side~429bare", base_url=other_server, max_retries=0
    ) as other:

        async def operation(org: apibricks.AsyncClient) -> int:
            invoices = await org.invoices.list_paid()
            with pytest.raises(apibricks.RateLimitError):
                await other.invoices.list_paid()
            return len(invoices)

        outcomes = await collect(
            client.fan_out(keys, operation, concurrency=8, on_progress=ticks.append)
        )
    assert [o.unwrap() for o in outcomes] == [2] * len(keys)
    assert ticks[-1].throttled == 0  # the 24 refusals were the other server's
    assert ticks[-1].pace is None  # ... so nothing slowed this fan-out down


async def test_another_client_inside_the_operation_is_not_paced(
    client: apibricks.AsyncClient, other_server: str
) -> None:
    """At one request per 1000 s the fan-out's second start slot is far away: a paced
    side call would wait for it; an unpaced one takes milliseconds (the deadline below
    is thousands of times that)."""
    async with apibricks.AsyncClient(api_key="sk_sandbox_side", base_url=other_server) as other:

        async def operation(org: apibricks.AsyncClient) -> int:
            await org.invoices.list_paid()  # takes the fan-out's only near slot
            side = await asyncio.wait_for(other.invoices.list_paid(), timeout=30)
            return len(side)

        outcomes = await collect(client.fan_out(["sk_sandbox_one"], operation, rate_limit=0.001))
    assert [o.unwrap() for o in outcomes] == [1]


async def test_views_made_from_the_key_view_keep_the_pace(
    client: apibricks.AsyncClient, server: sandbox.Sandbox
) -> None:
    """``org.with_options(...)`` inside the operation is still the fan-out's key view: its
    answers reach the pace (here: every 429 counted, the pace's free resends too)."""
    keys = [f"sk_sandbox_view{i}~429bare" for i in range(6)]
    ticks: list[Progress] = []

    async def operation(org: apibricks.AsyncClient) -> list[apibricks.Invoice]:
        return await org.with_options(max_retries=0).invoices.list_paid()

    outcomes = await collect(client.fan_out(keys, operation, on_progress=ticks.append))
    assert all(isinstance(o.error, apibricks.RateLimitError) for o in outcomes)
    assert ticks[-1].throttled == sum(server.requests_for(key) for key in keys) >= len(keys)
