"""Fan-out behind a rate limiter: the pace is found from 429s, nothing is lost.

The sandbox's token-bucket limiter answers 429 without ``Retry-After``, as nginx does.
The sandbox serves from its own thread and loop; the client runs on the test's loop.
Assertions count (refusals, failures, pace values) rather than time wherever possible.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import random
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from test_cli import cli

import apibricks
from apibricks import _retry, sandbox
from apibricks._async import _pacing
from apibricks._outcome import Progress
from apibricks.sandbox.__main__ import _parser

LIST_PAID = lambda org: org.invoices.list_paid()  # noqa: E731


@contextlib.contextmanager
def serving(
    retry_after: float | None = None, **options: Any
) -> Iterator[tuple[sandbox.Sandbox, str]]:
    sb = sandbox.Sandbox(invoices_per_org=1, **options)
    if sb.limiter is not None:
        sb.limiter.retry_after = retry_after  # on the limiter's 429s
    with sb.serve_in_thread() as url:
        yield sb, url


async def run(url: str, keys: list[str], **options: Any) -> list[apibricks.Outcome[Any]]:
    async with apibricks.AsyncClient(base_url=url) as client:
        stream = client.fan_out(keys, options.pop("operation", LIST_PAID), **options)
        async with contextlib.aclosing(stream) as outcomes:
            results = [outcome async for outcome in outcomes]
    return results


async def test_behind_a_limiter_the_default_fan_out_loses_nothing_and_finds_the_rate() -> None:
    rate, n = 100.0, 500
    keys = [f"sk_sandbox_org{i}" for i in range(n)]
    ticks: list[Progress] = []
    with serving(rate_limit=rate, burst=10) as (sb, url):
        outcomes = await run(url, keys, on_progress=ticks.append)
    assert sb.limiter is not None
    assert [o.error for o in outcomes if not o.ok] == []
    assert len(outcomes) == n
    assert sb.limiter.refused > 0  # the limiter did bite: without pacing see the next test
    assert ticks[-1].throttled == sb.limiter.refused  # every 429 counted, none invented
    tail = [t.pace for t in ticks[-n // 3 :]]
    assert all(pace is not None for pace in tail)
    median = statistics.median(p for p in tail if p is not None)
    # The pace probes upwards while it holds requests back and the limiter's 429s bring it
    # down (issue 30's pacer): its median sits near the rate, seen up to 1.34x on a loaded CI.
    assert 0.5 * rate <= median <= 1.5 * rate, median


@pytest.mark.parametrize(
    ("rate", "burst", "n", "retry_after"),
    [(5.0, 1, 20, None), (10.0, 1, 40, None), (20.0, 10, 80, None), (5.0, 1, 10, 0.5)],
    ids=["5/s-burst-1", "10/s-burst-1", "20/s-burst-10", "5/s-burst-1-retry-after-0.5"],
)
async def test_behind_a_low_limit_the_default_fan_out_loses_nothing(
    rate: float, burst: int, n: int, retry_after: float | None
) -> None:
    """Fewer keys than the default concurrency of 32 (or about as many): every first
    request goes out in the unpaced start, most are refused, and their retries meet a pace
    the pacer is still cutting. Those refusals are the pacer's, not the keys': they must
    not use up the keys' three attempts (before the fix 5/s lost 6-7 keys of 20 per run).
    """
    keys = [f"sk_sandbox_low{i}" for i in range(n)]
    with serving(retry_after, rate_limit=rate, burst=burst) as (sb, url):
        outcomes = await run(url, keys)
    assert sb.limiter is not None and sb.limiter.refused > 0
    assert [o.error for o in outcomes if not o.ok] == []
    assert len(outcomes) == n


async def test_a_server_refusing_everything_still_ends_every_key_in_an_error() -> None:
    """Free resends are bounded: the limiter admits one request in 100 s, far below any
    pace the pacer can reach; every other key ends in RateLimitError, each after at most
    its three attempts plus ``FREE_RETRIES`` (counted per key by the server)."""
    keys = [f"sk_sandbox_wall{i}" for i in range(12)]
    with serving(rate_limit=0.01, burst=1) as (sb, url):
        outcomes = await run(url, keys)
    errors = [o.error for o in outcomes if not o.ok]
    assert len(outcomes) == 12 and len(errors) == 11
    assert all(isinstance(e, apibricks.RateLimitError) for e in errors)
    assert sb.limiter is not None
    refused = [sb.limiter.refused_for(key) for key in keys]
    assert max(refused) <= 3 + _pacing.FREE_RETRIES
    assert sum(refused) < 12 * (3 + _pacing.FREE_RETRIES)  # none before the first cut


async def test_a_key_over_its_own_limit_still_fails_after_its_retries() -> None:
    """A 429 to a key answered before is that key's (its own limit), even while a shared
    limit has the pacer cutting its pace and resending: the call gets 1 + max_retries
    attempts, no free ones."""
    answers: dict[str, list[int]] = collections.defaultdict(list)

    async def on_request_end(_s: Any, _c: Any, params: aiohttp.TraceRequestEndParams) -> None:
        answers[params.headers["Authorization"]].append(params.response.status)

    async def twice(org: apibricks.AsyncClient) -> int:
        await org.invoices.list_paid()
        return len(await org.invoices.list_paid())  # its own bucket is empty for 20 s

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    keys = [f"sk_sandbox_own{i}" for i in range(16)]
    with serving(rate_limit=20, burst=1, per_key_rate_limit=0.05) as (_sb, url):
        async with aiohttp.ClientSession(trace_configs=[trace]) as session:
            client = apibricks.AsyncClient(base_url=url, session=session)
            stream = client.fan_out(keys, twice)
            async with client, contextlib.aclosing(stream) as outcomes:
                errors = [o.error async for o in outcomes]
    assert all(isinstance(e, apibricks.RateLimitError) for e in errors)
    assert len(errors) == len(keys)
    for key in keys:  # the second call: one attempt and two retries, all refused
        statuses = answers[key]
        assert statuses[statuses.index(200) + 1 :] == [429, 429, 429], statuses


async def test_without_adaptive_pacing_the_same_limiter_fails_keys() -> None:
    """The control: the fault is real, and retries alone do not handle it.

    300 keys at 20/s need 15 s; 64 workers, each retrying on its own schedule (three
    attempts within at most 6 s), keep the limiter saturated and many keys run out of
    attempts (as issue 19 measured behind nginx).
    """
    rate, n = 20.0, 300
    keys = [f"sk_sandbox_org{i}" for i in range(n)]
    ticks: list[Progress] = []
    with serving(rate_limit=rate, burst=10) as (sb, url):
        outcomes = await run(url, keys, adaptive=False, concurrency=64, on_progress=ticks.append)
    failures = [o.error for o in outcomes if not o.ok]
    assert failures and all(isinstance(e, apibricks.RateLimitError) for e in failures)
    assert {t.pace for t in ticks} == {None}  # adaptive=False never paces
    assert sb.limiter is not None and ticks[-1].throttled == sb.limiter.refused  # still counted


async def test_an_unlimited_run_is_not_paced() -> None:
    keys = [f"sk_sandbox_org{i}" for i in range(300)]
    ticks: list[Progress] = []
    with serving() as (_sb, url):
        outcomes = await run(url, keys, concurrency=32, on_progress=ticks.append)
    assert all(o.ok for o in outcomes)
    assert {t.pace for t in ticks} == {None}
    assert {t.throttled for t in ticks} == {0}


async def test_a_per_key_limit_does_not_slow_the_other_organizations() -> None:
    """Each organization's second call meets its own limit: only that key backs off."""

    async def twice(org: apibricks.AsyncClient) -> int:
        first = await org.invoices.list_paid()
        second = await org.invoices.list_paid()  # at once: over the key's limit
        return len(first) + len(second)

    keys = [f"sk_sandbox_org{i}" for i in range(60)]
    ticks: list[Progress] = []
    # One token per 200 ms: a second call is refused even when a loaded machine (parallel
    # workers) delays it; at 20/s a call 50 ms late was let through and refusals fell short.
    with serving(per_key_rate_limit=5.0, burst=1) as (sb, url):
        outcomes = await run(url, keys, operation=twice, on_progress=ticks.append)
    assert sb.limiter is not None and sb.limiter.refused >= len(keys) // 2
    assert ticks[-1].throttled == sb.limiter.refused
    assert {t.pace for t in ticks} == {None}, "a per-key 429 slowed the whole fan-out"
    assert sum(o.ok for o in outcomes) >= len(keys) - 2  # retried within max_retries


async def test_retry_after_pauses_the_whole_fan_out() -> None:
    """Many 429s with Retry-After: no request of the fan-out starts until then."""
    loop = asyncio.get_running_loop()

    async def starts_after_first_429(adaptive: bool, url: str) -> list[float]:
        """When requests started, in seconds after the first 429 came back."""
        starts: list[float] = []
        throttled: list[float] = []

        async def on_request_start(*_: Any) -> None:
            starts.append(loop.time())

        async def on_request_end(_s: Any, _c: Any, params: aiohttp.TraceRequestEndParams) -> None:
            if params.response.status == 429:
                throttled.append(loop.time())

        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(on_request_start)
        trace.on_request_end.append(on_request_end)
        keys = [f"sk_sandbox_busy{adaptive}{i}~429r1x1" for i in range(16)]
        keys += [f"sk_sandbox_ok{adaptive}{i}" for i in range(400)]  # > 1 s of work
        async with aiohttp.ClientSession(trace_configs=[trace]) as session:
            client = apibricks.AsyncClient(base_url=url, session=session)
            stream = client.fan_out(keys, LIST_PAID, concurrency=32, adaptive=adaptive)
            async with client, contextlib.aclosing(stream) as outcomes:
                assert all([o.ok async for o in outcomes])
        first = min(throttled)
        return sorted(start - first for start in starts)

    with serving(latency=0.05) as (_sb, url):
        paced = await starts_after_first_429(True, url)
        # Paused: a gap of about Retry-After with no request starting at all.
        assert max(b - a for a, b in itertools.pairwise(paced)) >= 0.8
        unpaced = await starts_after_first_429(False, url)
        # Each busy key waited alone: the others kept starting within that second (counted,
        # not timed, so a loaded machine that stalls the loop for a while cannot fail it).
        assert sum(0 < start < 0.8 for start in unpaced) >= 16


async def test_a_retry_after_beyond_the_cap_pauses_nothing(
    request_starts: tuple[aiohttp.TraceConfig, list[float]],
) -> None:
    """Those calls fail at once (the cap says so): the other organizations go on unpaused."""
    trace, starts = request_starts
    keys = [f"sk_sandbox_busy{i}~429r9999" for i in range(16)]
    keys += [f"sk_sandbox_ok{i}" for i in range(200)]
    with serving(latency=0.05) as (_sb, url):
        async with aiohttp.ClientSession(trace_configs=[trace]) as session:
            client = apibricks.AsyncClient(base_url=url, session=session, retry_after_cap=5)
            stream = client.fan_out(keys, LIST_PAID, concurrency=32)
            async with client, contextlib.aclosing(stream) as outcomes:
                failed = [o.error async for o in outcomes if not o.ok]
    assert len(failed) == 16 and all(isinstance(e, apibricks.RateLimitError) for e in failed)
    starts.sort()
    assert max(b - a for a, b in itertools.pairwise(starts)) < 2.5  # a pause would be 5 s


async def test_the_sandbox_limiter_answers_429_without_retry_after_per_key() -> None:
    with serving(per_key_rate_limit=0.5, burst=2) as (sb, url):
        async with apibricks.AsyncClient(base_url=url, max_retries=0) as client:
            a, b = client.with_api_key("sk_sandbox_a"), client.with_api_key("sk_sandbox_b")
            await a.invoices.list_paid()
            await a.invoices.list_paid()
            with pytest.raises(apibricks.RateLimitError) as raised:
                await a.invoices.list_paid()
            assert raised.value.retry_after is None
            assert raised.value.headers is not None and "Retry-After" not in raised.value.headers
            assert len(await b.invoices.list_paid()) == 1  # another key has its own bucket
    assert sb.limiter is not None
    assert sb.limiter.refused == sb.limiter.refused_for("sk_sandbox_a") == 1


async def test_the_sandbox_global_limiter_counts_refusals() -> None:
    with serving(rate_limit=0.5, burst=3) as (sb, url):
        async with apibricks.AsyncClient(base_url=url, max_retries=0) as client:
            results = await asyncio.gather(
                *(client.with_api_key(f"sk_sandbox_k{i}").invoices.list_paid() for i in range(5)),
                return_exceptions=True,
            )
    assert sum(isinstance(r, apibricks.RateLimitError) for r in results) == 2
    assert sb.limiter is not None and sb.limiter.refused == 2


def test_the_sandbox_command_takes_the_limits() -> None:
    argv = ["--rate-limit", "50", "--burst", "20", "--per-key-rate-limit", "5"]
    args = _parser().parse_args(argv)
    assert (args.rate_limit, args.burst, args.per_key_rate_limit) == (50.0, 20, 5.0)
    with pytest.raises(ValueError, match="rate_limit"):
        sandbox.Sandbox(rate_limit=0)


@pytest.mark.parametrize(
    ("error", "ceilings"),
    [
        (apibricks.RateLimitError("busy", status_code=429), [2, 4, 8, 8, 8]),
        (apibricks.InternalServerError("down", status_code=500), [0.5, 1, 2, 4, 8]),
    ],
)
def test_a_429_without_retry_after_backs_off_longer(
    error: apibricks.APIBricksError, ceilings: list[float]
) -> None:
    random.seed(19)
    draws: list[list[float]] = [[] for _ in ceilings]
    for _ in range(300):
        for n in range(len(ceilings)):
            draws[n].append(_retry.retry_wait(error, n))
    for ceiling, sample in zip(ceilings, draws, strict=True):
        assert min(sample) >= 0 and max(sample) <= ceiling
        assert max(sample) > 0.9 * ceiling  # full jitter: the whole range is used


async def test_progress_reports_elapsed_and_rate() -> None:
    ticks: list[Progress] = []
    with serving() as (_sb, url):
        await run(url, [f"sk_sandbox_p{i}" for i in range(20)], on_progress=ticks.append)
    elapsed = [t.elapsed for t in ticks]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
    assert all(t.rate == pytest.approx(t.done / t.elapsed) for t in ticks)


# --- behind nginx's limit_req (issue 30): refusals at once, the upstream's 200s later ---

NGINX = {"rate_limit": 50.0, "burst": 20, "limiter": "nginx-nodelay", "latency": 0.02}


@pytest.mark.parametrize("cold_start", range(3))
async def test_behind_nginx_limit_req_the_default_fan_out_loses_nothing(cold_start: int) -> None:
    """Each run a cold start (a fresh limiter and client), at the defaults. nginx answers
    its 429s before the burst's 200s come back from the upstream: the old pacer counted
    those 200s as the server's rate, judged a cut still above it as no help, and from then
    on every refusal spent a retry (issue 30: up to 15 of 500 keys lost per run; on the
    simulated clock 8 runs in 10 lost keys at this setting)."""
    keys = [f"sk_sandbox_nginx{cold_start}_{i}" for i in range(200)]
    with serving(**NGINX) as (sb, url):
        outcomes = await run(url, keys)
    assert sb.limiter is not None and sb.limiter.refused > 0
    assert [o.error for o in outcomes if not o.ok] == []
    assert len(outcomes) == len(keys)


async def test_behind_nginx_limit_req_the_cli_at_its_defaults_loses_nothing(
    tmp_path: Path,
) -> None:
    """The command line at its defaults, two cold starts in a row."""
    keys = [f"sk_sandbox_cli{i}" for i in range(200)]
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(keys) + "\n", encoding="utf-8")
    for cold_start in range(2):
        output = tmp_path / f"out{cold_start}.jsonl"
        with serving(**NGINX) as (sb, url):
            result = await cli(
                "invoices", "paid", "--keys-file", str(keys_file), "-o", str(output),
                APIBRICKS_BASE_URL=url,
            )  # fmt: skip
        assert sb.limiter is not None and sb.limiter.refused > 0
        assert result.code == 0, result.err
        lines = output.read_text(encoding="utf-8").splitlines()
        assert len(lines) == len(keys)  # one invoice per organization


async def test_the_sandbox_nginx_limiter_refuses_before_the_latency() -> None:
    """Its 429s come back at once, as nginx's do; the admitted requests take the latency."""
    with serving(rate_limit=0.5, burst=0, limiter="nginx-nodelay", latency=0.5) as (sb, url):
        async with apibricks.AsyncClient(base_url=url, max_retries=0) as client:
            loop = asyncio.get_running_loop()
            began = loop.time()
            first = asyncio.ensure_future(client.with_api_key("sk_sandbox_a").invoices.list_paid())
            await asyncio.sleep(0.1)
            with pytest.raises(apibricks.RateLimitError):
                await client.with_api_key("sk_sandbox_b").invoices.list_paid()
            refused_after = loop.time() - began
            assert len(await first) == 1
    assert sb.limiter is not None and sb.limiter.refused == 1
    assert refused_after < 0.5  # before the first (admitted) answer came back
