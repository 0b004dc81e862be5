"""A rate limiter in front of the sandbox, as the limiters in front of real APIs behave.

One limit shared by every request (``rate_limit``) and one per API key
(``per_key_rate_limit``); a request must pass each limit it is subject to, and only then
is it counted in all of them (a refused request counts nowhere, as in nginx). A refused
request is answered 429 with no ``Retry-After`` (as nginx, gateways and CDNs usually
answer), so clients have to find the pace themselves; set ``retry_after`` (seconds) to
send one, as a limiter configured to (nginx ``add_header Retry-After ... always``).

The ``algorithm`` says how each limit counts (the pacing simulation runs every one of
them on a virtual clock, through ``clock``):

* ``"token-bucket"``: refilled continuously at the rate, holding at most ``burst``
  tokens (at least one); a request takes a token.
* ``"nginx"`` / ``"nginx-nodelay"``: nginx's ``limit_req`` (ngx_http_limit_req_module.c)
  with ``burst=``, without and with ``nodelay``: the "excess" in thousandths of a
  request, drained by ``rate * elapsed ms`` (whole milliseconds, integer arithmetic);
  a request raises it by 1000 and is refused when it would pass ``burst * 1000``. Without
  ``nodelay`` an admitted request over the rate is held until its excess drained
  (``excess / rate``); with it, answered at once.
* ``"fixed-window"``: at most ``rate`` requests (at least one) in each whole second.
* ``"sliding-window"``: at most ``rate`` requests (at least one) in any second (a log of
  the admitted requests).
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable
from typing import Final, Protocol

__all__ = ["ALGORITHMS", "Limiter"]

ALGORITHMS: Final = ("token-bucket", "nginx", "nginx-nodelay", "fixed-window", "sliding-window")


class _Meter(Protocol):
    def ask(self, now: float) -> float | None:
        """Seconds to hold a request arriving now before serving it; None: refused."""

    def take(self, now: float) -> None:
        """Count an admitted request (after every limit said yes)."""


class _TokenBucket:
    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.capacity = float(max(1, burst))
        self.tokens = self.capacity
        self.stamp = now

    def ask(self, now: float) -> float | None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1.0 else None

    def take(self, now: float) -> None:
        self.tokens -= 1.0


class _NginxLimitReq:
    """One key's node of ``limit_req``: the same integers nginx keeps."""

    __slots__ = ("burst", "delay", "excess", "last", "rate")

    def __init__(self, rate: float, burst: int, nodelay: bool) -> None:
        self.rate = max(1, round(rate * 1000))  # thousandths of a request per second
        self.burst = max(0, burst) * 1000
        self.delay = self.burst if nodelay else 0  # excess answered without waiting
        self.excess = 0
        self.last: int | None = None  # ms of the last admitted request; None: a new node

    def _excess(self, now_ms: int) -> int:
        if self.last is None:
            return 0  # a new node admits its first request with no excess
        ms = max(0, now_ms - self.last)
        return max(0, self.excess - self.rate * ms // 1000 + 1000)

    def ask(self, now: float) -> float | None:
        excess = self._excess(_ms(now))
        if excess > self.burst:
            return None
        if excess <= self.delay:
            return 0.0
        return (excess - self.delay) * 1000 // self.rate / 1000  # whole ms, as nginx

    def take(self, now: float) -> None:
        now_ms = _ms(now)
        self.excess = self._excess(now_ms)
        if self.last is None or now_ms != self.last:
            self.last = now_ms


class _FixedWindow:
    __slots__ = ("count", "limit", "window")

    def __init__(self, rate: float) -> None:
        self.limit = max(1, math.floor(rate))
        self.window = -1
        self.count = 0

    def ask(self, now: float) -> float | None:
        window = math.floor(now)
        if window != self.window:
            self.window, self.count = window, 0
        return 0.0 if self.count < self.limit else None

    def take(self, now: float) -> None:
        self.count += 1


class _SlidingWindow:
    __slots__ = ("admitted", "limit")

    def __init__(self, rate: float) -> None:
        self.limit = max(1, math.floor(rate))
        self.admitted: collections.deque[float] = collections.deque()

    def ask(self, now: float) -> float | None:
        admitted = self.admitted
        while admitted and admitted[0] <= now - 1.0:
            admitted.popleft()
        return 0.0 if len(admitted) < self.limit else None

    def take(self, now: float) -> None:
        self.admitted.append(now)


def _ms(now: float) -> int:
    return math.floor(now * 1000)


def _meter(algorithm: str, rate: float, burst: int, now: float) -> _Meter:
    if algorithm == "token-bucket":
        return _TokenBucket(rate, burst, now)
    if algorithm in ("nginx", "nginx-nodelay"):
        return _NginxLimitReq(rate, burst, nodelay=algorithm == "nginx-nodelay")
    if algorithm == "fixed-window":
        return _FixedWindow(rate)
    return _SlidingWindow(rate)


class Limiter:
    """Admits a request or refuses it; counts what it refused (``refused``, ``refused_for``)."""

    def __init__(
        self,
        *,
        rate_limit: float | None = None,
        burst: int = 1,
        per_key_rate_limit: float | None = None,
        per_key_burst: int | None = None,
        algorithm: str = "token-bucket",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("rate_limit", rate_limit), ("per_key_rate_limit", per_key_rate_limit)):
            if value is not None and not 0 < value < math.inf:
                raise ValueError(f"{name} must be a positive number per second, got {value!r}")
        if burst < 0 or (per_key_burst is not None and per_key_burst < 0):
            raise ValueError("burst must not be negative")
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}; got {algorithm!r}")
        self.rate_limit = rate_limit
        self.burst = burst
        self.per_key_rate_limit = per_key_rate_limit
        self.per_key_burst = burst if per_key_burst is None else per_key_burst
        self.algorithm = algorithm
        self._clock = clock
        self._global = None if rate_limit is None else _meter(algorithm, rate_limit, burst, clock())
        self._keys: dict[str, _Meter] = {}
        self.retry_after: float | None = None  # sent on every 429 when set
        self.refused = 0
        self._refused: dict[str, int] = {}

    def decide(self, key: str) -> float | None:
        """Admit a request of ``key`` (counted in every limit): the seconds to hold it
        before serving it (0 but for nginx without ``nodelay``); None: refused, counted."""
        now = self._clock()
        meters = [] if self._global is None else [self._global]
        if self.per_key_rate_limit is not None:
            meter = self._keys.get(key)
            if meter is None:
                meter = _meter(self.algorithm, self.per_key_rate_limit, self.per_key_burst, now)
                self._keys[key] = meter
            meters.append(meter)
        delays = [meter.ask(now) for meter in meters]
        if None in delays:
            self.refused += 1
            self._refused[key] = self._refused.get(key, 0) + 1
            return None
        for meter in meters:
            meter.take(now)
        return max((delay for delay in delays if delay is not None), default=0.0)

    def admit(self, key: str) -> bool:
        """Whether a request of ``key`` is admitted (see `decide`)."""
        return self.decide(key) is not None

    def refused_for(self, key: str | None) -> int:
        """429s this limiter answered to exactly this ``Authorization`` value."""
        return self._refused.get(key or "", 0)

    def reset(self) -> None:
        self.refused = 0
        self._refused.clear()
