"""A rate limiter in front of the sandbox, as nginx ``limit_req`` with ``nodelay`` behaves.

Token buckets: one shared by every request (``rate_limit``) and one per API key
(``per_key_rate_limit``), each refilled continuously and holding at most ``burst`` tokens
(at least one). A request needs a token from each bucket it is subject to; a refused one
takes none and is answered 429 with no ``Retry-After`` (as nginx, gateways and CDNs
usually answer), so clients have to find the pace themselves; set ``retry_after`` (seconds)
to send one, as a limiter configured to (nginx ``add_header Retry-After ... always``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["Limiter"]


class _Bucket:
    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = now

    def refill(self, now: float) -> float:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens


class Limiter:
    """Admits a request or refuses it; counts what it refused (``refused``, ``refused_for``)."""

    def __init__(
        self,
        *,
        rate_limit: float | None = None,
        burst: int = 1,
        per_key_rate_limit: float | None = None,
        per_key_burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("rate_limit", rate_limit), ("per_key_rate_limit", per_key_rate_limit)):
            if value is not None and not 0 < value < math.inf:
                raise ValueError(f"{name} must be a positive number per second, got {value!r}")
        if burst < 0 or (per_key_burst is not None and per_key_burst < 0):
            raise ValueError("burst must not be negative")
        self.rate_limit = rate_limit
        self.burst = burst
        self.per_key_rate_limit = per_key_rate_limit
        self.per_key_burst = burst if per_key_burst is None else per_key_burst
        self._clock = clock
        self._global = None if rate_limit is None else _Bucket(rate_limit, max(1, burst), clock())
        self._keys: dict[str, _Bucket] = {}
        self.retry_after: float | None = None  # sent on every 429 when set
        self.refused = 0
        self._refused: dict[str, int] = {}

    def admit(self, key: str) -> bool:
        """Take a token for ``key`` (and the shared bucket), or count a refusal."""
        now = self._clock()
        buckets = [] if self._global is None else [self._global]
        if self.per_key_rate_limit is not None:
            bucket = self._keys.get(key)
            if bucket is None:
                capacity = max(1, self.per_key_burst)
                bucket = self._keys[key] = _Bucket(self.per_key_rate_limit, capacity, now)
            buckets.append(bucket)
        if all(bucket.refill(now) >= 1.0 for bucket in buckets):
            for bucket in buckets:
                bucket.tokens -= 1.0
            return True
        self.refused += 1
        self._refused[key] = self._refused.get(key, 0) + 1
        return False

    def refused_for(self, key: str | None) -> int:
        """429s this limiter answered to exactly this ``Authorization`` value."""
        return self._refused.get(key or "", 0)

    def reset(self) -> None:
        self.refused = 0
        self._refused.clear()
