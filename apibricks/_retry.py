"""After a failed attempt, what next: give up, resend for free, or retry after a wait.

`next_attempt` decides it, a pure function of the failure and the call's state, so the
transport's attempt loop reads top to bottom. Waits are exponential with full jitter
(`backoff.full_jitter`), except that a server's ``Retry-After`` is obeyed exactly (it
knows better than our jitter does).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import NamedTuple

import backoff

from ._exceptions import APIConnectionError, APIStatusError, RateLimitError

__all__ = ["Next", "is_retryable", "next_attempt", "parse_retry_after", "retry_wait"]

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


def retry_wait(error: BaseException, retry: int) -> float:
    """The wait before retry number ``retry`` (0 for the first) after ``error``.

    Full jitter (a uniform draw below the exponential ceiling) spreads a crowd of clients
    that failed together; a server's ``Retry-After`` (on any retried status) replaces it,
    and a 429 without one draws below a ceiling four times as high
    (``THROTTLE_BACKOFF_BASE``).
    """
    if isinstance(error, APIStatusError) and error.retry_after is not None:
        return error.retry_after
    base = THROTTLE_BACKOFF_BASE if isinstance(error, RateLimitError) else BACKOFF_BASE
    return float(backoff.full_jitter(min(BACKOFF_CAP, base * 2.0**retry)))


class Next(NamedTuple):
    """Another attempt, after ``wait`` seconds; ``free``: it spends none of the retries."""

    wait: float
    free: bool


def next_attempt(
    error: BaseException,
    *,
    retries: int,
    max_retries: int,
    retry_after_cap: float,
    free_resend: float | None,
) -> Next | None:
    """What follows the failure ``error`` of a call that spent ``retries`` retries so far.

    None: give up, the call raises ``error`` (not retryable, out of retries, or a
    ``Retry-After`` beyond ``retry_after_cap``: waiting that long is not our call to
    make). ``free_resend``: the fan-out's pace caused this 429 and resends it after that
    many seconds, at no cost to the call (see ``_async/_pacing.py``).
    """
    if free_resend is not None:
        return Next(free_resend, free=True)
    if retries >= max_retries or not is_retryable(error):
        return None
    if isinstance(error, APIStatusError) and (error.retry_after or 0.0) > retry_after_cap:
        return None
    return Next(retry_wait(error, retries), free=False)
