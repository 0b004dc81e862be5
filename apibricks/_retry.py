"""Which failures are worth another attempt, and how long to wait before it.

The waits feed `backoff`: exponential with full jitter, except that a server's
``Retry-After`` is obeyed exactly (it knows better than our jitter does).
"""

from __future__ import annotations

import random
import time
from collections.abc import Generator, Mapping
from email.utils import parsedate_to_datetime

from ._exceptions import APIConnectionError, APIStatusError, RateLimitError

__all__ = ["RETRYABLE_STATUSES", "gives_up", "is_retryable", "parse_retry_after", "retry_waits"]

RETRYABLE_STATUSES = frozenset({408, 409, 429})

# Exponential backoff: the n-th retry waits a uniform draw in [0, min(CAP, BASE * 2**n)].
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
# A 429 without Retry-After starts from a longer base, to outlast a limiter's window:
# ceilings 2, 4, 8, 8, ... s (openai-python caps at 8 s too).
THROTTLE_BACKOFF_BASE = 2.0


def is_retryable(error: BaseException) -> bool:
    if isinstance(error, APIConnectionError):
        return error.retryable
    if isinstance(error, APIStatusError):
        return error.status_code in RETRYABLE_STATUSES or error.status_code >= 500
    return False


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date).

    None for anything unusable (unparsable, ``inf``, ``nan``, negative seconds): the
    jittered backoff applies then. A date already past means "now" (0).
    """
    value = headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
        if seconds < 0:
            return None
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


def retry_waits(
    base: float | None = None, cap: float | None = None
) -> Generator[float, BaseException | None, None]:
    """A backoff wait generator: it is sent each failure and yields the wait before retrying.

    Full jitter (a uniform draw below the exponential ceiling) spreads a crowd of clients
    that failed together; a server's ``Retry-After`` (on any retried status) replaces it,
    and a 429 without one draws below a ceiling four times as high
    (``THROTTLE_BACKOFF_BASE``).
    """
    base = BACKOFF_BASE if base is None else base
    cap = BACKOFF_CAP if cap is None else cap
    error = yield 0.0  # primed by backoff with next(); the first real value follows a send
    attempt = 0
    while True:
        if isinstance(error, APIStatusError) and error.retry_after is not None:
            wait = error.retry_after
        else:
            start = base
            if isinstance(error, RateLimitError):
                start = base * THROTTLE_BACKOFF_BASE / BACKOFF_BASE
            wait = random.uniform(0.0, min(cap, start * 2.0**attempt))
        attempt += 1
        error = yield wait


def gives_up(error: BaseException, retry_after_cap: float) -> bool:
    """True when ``error`` must not be retried, including a Retry-After beyond our patience."""
    if not is_retryable(error):
        return True
    return (
        isinstance(error, APIStatusError)
        and error.retry_after is not None
        and error.retry_after > retry_after_cap
    )
