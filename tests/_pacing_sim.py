"""The fan-out's pacing on a virtual clock: the real `fan_out` and `Pacer` against model
limiters (the sandbox's `Limiter` on that clock), no sockets, no sleeping.

* `VirtualClockLoop` is asyncio's own `SelectorEventLoop` whose ``time()`` is a counter:
  when nothing is ready, its selector moves the counter to the next timer instead of
  blocking. Every ``asyncio.sleep`` and the pacer's slots run on it unchanged, so a run of
  minutes of traffic takes a fraction of a second and is the same run every time (the
  randomness is seeded).
* `ModelServer` answers for the limiter: a refusal (429, no ``Retry-After``) at once, as
  nginx does in front of its upstream; an admitted request after the limiter's hold
  (nginx without ``nodelay``) and the upstream's latency.
* `simulate` runs the real ``AsyncClient.fan_out`` (its concurrency, its `Pacer` and the
  per-key `Lane` on the key's view); only the wire is replaced, by `model_call`, which
  follows the transport's attempt loop: a slot from the lane, the answer told to it, and
  the real `next_attempt` deciding between a free resend, a counted retry after its
  backoff, and giving up.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import math
import random
import selectors
from collections.abc import Mapping
from typing import Any

import apibricks
from apibricks import _retry
from apibricks._async import _pacing
from apibricks.sandbox._limiter import Limiter

REFUSAL_LATENCY = 0.0005  # seconds: nginx answers a refusal itself, at once
RETRY_AFTER_CAP = 60.0  # the model limiters send no Retry-After


class _IdleSelector(selectors.BaseSelector):
    """A real selector polled without waiting; idle time is skipped on the loop's clock."""

    def __init__(self, clock: VirtualClockLoop) -> None:
        self._inner = selectors.DefaultSelector()
        self._clock = clock

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._inner.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise RuntimeError("deadlock: every task waits and no timer is set")
        self._clock.advance(timeout)
        return []

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock moves only when every task waits for a timer."""

    def __init__(self) -> None:
        self.virtual_now = 0.0
        super().__init__(_IdleSelector(self))

    def time(self) -> float:
        return self.virtual_now

    def advance(self, seconds: float) -> None:
        self.virtual_now += seconds


class ModelServer:
    """The limiter's answers, with latency; counts what it refused per key."""

    def __init__(self, limiter: Limiter | None, latency: float, sick: frozenset[str]) -> None:
        self.limiter = limiter
        self.latency = latency
        self.sick = sick  # keys answered 503 whatever the pace (a sick shard)
        self.requests = 0

    async def answer(self, key: str) -> int:
        self.requests += 1
        hold = 0.0 if self.limiter is None else self.limiter.decide(key)
        if hold is None:
            await asyncio.sleep(REFUSAL_LATENCY)
            return 429
        await asyncio.sleep(hold + self.latency)
        return 503 if key in self.sick else 200  # the limiter counted it: a sick upstream


@dataclasses.dataclass
class Run:
    """What one simulated fan-out did."""

    keys: int
    wall: float  # seconds on the virtual clock
    failed: dict[str, tuple[int, bool]]  # healthy key: 429s to its failed call, after a success?
    sick: frozenset[str]  # keys answered 503 whatever the pace (their calls fail too)
    refused: dict[str, int]  # 429s per key
    requests: int
    paces: list[float]  # the pace after each outcome (when set)


class CallFailed(apibricks.RateLimitError):
    """The model call's RateLimitError, with how many 429s that call got."""

    def __init__(self, refused: int) -> None:
        super().__init__("Rate limit exceeded.", status_code=429)
        self.refused = refused


async def model_call(lane: _pacing.Lane, server: ModelServer, key: str, max_retries: int) -> int:
    """One call of the key through the lane, as the transport's attempt loop makes it: a
    slot, the answer told to the lane, then the real `next_attempt` decides."""
    retries = refused = 0
    while True:
        slot = await lane.acquire()
        status = await server.answer(key)
        free_resend = lane.observe(slot, status, {})
        if 200 <= status < 300:
            return status
        refused += 1
        error: apibricks.APIStatusError = apibricks.RateLimitError("busy", status_code=status)
        if status == 503:
            error = apibricks.InternalServerError("Service unavailable.", status_code=status)
        then = _retry.next_attempt(
            error,
            retries=retries,
            max_retries=max_retries,
            retry_after_cap=RETRY_AFTER_CAP,
            free_resend=free_resend,
        )
        if then is None:
            raise CallFailed(refused)
        retries += not then.free
        await asyncio.sleep(then.wait)


async def _simulate(
    limiter: Limiter | None,
    keys: list[str],
    *,
    sick: frozenset[str],
    latency: float,
    concurrency: int,
    max_retries: int,
    rate_limit: float | None,
    calls: int,
) -> Run:
    server = ModelServer(limiter, latency, sick)
    loop = asyncio.get_running_loop()

    async def operation(org: apibricks.AsyncClient) -> int:
        lane = org._lane  # the key's view carries its lane of the fan-out's pace
        assert lane is not None
        assert org._api_key is not None
        key = org._api_key.reveal()
        for call in range(calls):
            try:
                await model_call(lane, server, key, max_retries)
            except CallFailed as failed_call:
                if key not in sick:
                    failed[key] = (failed_call.refused, call > 0)
                raise
        return calls

    failed: dict[str, tuple[int, bool]] = {}
    paces: list[float] = []
    async with apibricks.AsyncClient(
        base_url="https://sim.invalid", max_retries=max_retries, max_connections=0
    ) as client:
        began = loop.time()
        stream = client.fan_out(
            keys,
            operation,
            concurrency=concurrency,
            rate_limit=rate_limit,
            on_progress=lambda p: paces.append(p.pace) if p.pace is not None else None,
        )
        async with contextlib.aclosing(stream) as outcomes:
            async for outcome in outcomes:
                if not outcome.ok and outcome.key not in sick:
                    assert isinstance(outcome.error, CallFailed), outcome.error
        wall = loop.time() - began
    refused = {key: 0 if limiter is None else limiter.refused_for(key) for key in keys}
    return Run(len(keys), wall, failed, sick, refused, server.requests, paces)


def simulate(
    *,
    algorithm: str = "nginx-nodelay",
    rate: float | None = 50.0,
    burst: int = 20,
    per_key_rate: float | None = None,
    per_key_burst: int = 1,
    keys: int = 500,
    latency: float = 0.005,
    concurrency: int = 32,
    max_retries: int = 2,
    rate_limit: float | None = None,
    calls: int = 1,
    sick: float = 0.0,
    seed: int = 0,
) -> Run:
    """One fan-out over ``keys`` keys behind a model limiter, on a fresh virtual clock.

    ``rate=None``: no limiter; ``sick``: this share of the keys answer 503 whatever the
    pace (their calls end in errors, not counted in ``failed``).
    """
    random.seed(seed)  # the jitter of backoff and of the pacer's resends
    loop = VirtualClockLoop()
    try:
        limiter = None
        if rate is not None or per_key_rate is not None:
            limiter = Limiter(
                rate_limit=rate,
                burst=burst,
                per_key_rate_limit=per_key_rate,
                per_key_burst=per_key_burst,
                algorithm=algorithm,
                clock=loop.time,
            )
        names = [f"sk_sim_{i}" for i in range(keys)]
        ill = frozenset(name for name in names if random.random() < sick)
        return loop.run_until_complete(
            _simulate(
                limiter,
                names,
                latency=latency,
                concurrency=concurrency,
                max_retries=max_retries,
                rate_limit=rate_limit,
                calls=calls,
                sick=ill,
            )
        )
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def ideal_wall(
    *,
    algorithm: str,
    rate: float,
    burst: int,
    keys: int,
    latency: float,
    concurrency: int,
    calls: int = 1,
) -> float:
    """The least time the limiter lets ``keys`` x ``calls`` requests through: what it
    admits at once, then its rate, or what ``concurrency`` carries at ``latency``."""
    requests = keys * calls
    if algorithm.endswith("window"):  # whole windows of `rate` requests, a second apart
        by_rate = float((requests - 1) // max(1, math.floor(rate)))
    else:
        at_once = max(1, burst) if algorithm == "token-bucket" else burst + 1
        by_rate = max(0, requests - at_once) / rate
    by_concurrency = math.ceil(requests / concurrency) * latency
    return max(by_rate, by_concurrency) + latency


def refusal_histogram(run: Run) -> collections.Counter[int]:
    return collections.Counter(run.refused.values())
