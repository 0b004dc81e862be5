"""The pace of one fan-out: how many requests per second it may start, found from the server.

Why a rate and not an in-flight limit: the limiters that answer 429 (nginx ``limit_req``,
API gateways, CDNs) count requests per second. How many requests are in flight says
nothing about that: on a fast link one request in flight already makes hundreds per
second. So the control variable is a rate, enforced as evenly spaced start times (no
client-side burst, so a server's burst allowance stays in reserve for our retries).

The rule is AIMD, the TCP rule, as in AWS SDKs' adaptive retry mode and Netflix's
concurrency-limits, with the measures that make it hold behind nginx ``limit_req``, token
buckets and fixed or sliding windows alike (``tests/test_pacing_sim.py`` proves it on a
virtual clock over rates, bursts, concurrencies, key counts and latencies):

* Unpaced at first: nothing waits until the server first throttles (a 429, or a 503 with
  ``Retry-After``), so a server without a limit sees exactly the old fan-out
  (``rate_limit`` paces from the start, and stays the ceiling the pace never passes).
* One line: requests that must wait stand in one line, and the head starts ``1 / pace``
  after the last start, at the pace of that moment. No slot is promised ahead: at a low
  rate a line of slots spaced at a pace since cut would last many seconds.
* Multiplicative decrease: a throttle sets the pace to ``DECREASE`` times the rate the
  server accepted (never above the pace: a pace already below it is not cut again, since a
  window limiter refuses everything until its next window whatever the pace), counted by
  the requests' start times between two refused ones (a full limiter admits its rate
  between two refusals; a stretch without refusals only shows what was offered). By start,
  not by answer: nginx answers its refusals at once while the burst it admitted waits for
  the upstream, so by answer time the burst's 200s land after the first 429 and inflate
  the count (issue 30: the cut stayed above the limit). Too few refusals or admitted
  requests to tell: the pace is cut by the share refused (at least to ``BLIND_DECREASE``;
  in the first ``WINDOW`` after the first throttle not below half what the unpaced start
  got through, or a closed window would halve it to a few per second before it reopens),
  and after a halving it climbs back fast (slow start). At most one cut per round: answers
  to requests started before the last cut were spaced at the old pace and say nothing new.
* Additive increase: each success adds to the pace so that it climbs by ``INCREASE`` times
  the pace of the last cut per second, by at most ``STEP`` per success (at a low rate a
  second holds few answers), and only while the pace holds requests back. The pace saws
  between ~0.8x and just above the server's rate; time above it is not lost (the server
  still serves its rate; the excess is refused and resent), so a run takes about
  keys / rate.
* ``Retry-After`` (up to ``retry_after_cap``; a longer one fails that call at once and
  pauses nothing) on a throttle that cuts the pace also pauses every new request of the
  fan-out until then, not only the retry that got it.
* Only a rate-limit signal (a 429, a 503 with ``Retry-After``) speaks for the pace. A
  plain 503 (or 500, 404...) is some organization's own trouble (a sick shard answers it
  whatever the pace), and it passed the limiter: it counts as admitted, as a success does.
  Not every 429 is about the pace either. A cut needs a share of throttled answers above
  ``threshold`` among the last ``RECENT`` answers to requests started since the last cut,
  and each measured cut is checked: if the first ``PROBE`` answers after it are throttled
  about as often as before (``BACKGROUND``), slowing down did not help, and that share
  becomes the threshold for ``JUDGED_FOR`` seconds (then cuts are tried again: a judgement
  that was wrong must not hold a pace above a limiter's rate for the rest of the run).
* A per-key limit must not slow the other organizations: only a throttle on a key's first
  request in this fan-out cuts the shared pace. A key that is throttled after it has been
  answered before is over its own limit; its call backs off by the retry schedule alone.
* A 429 to a key not answered yet is the pace's doing (the unpaced start, a pace still
  above the server's rate, a saw-tooth peak), whatever the share refused, so it does not
  spend the call's retries: it is resent for free after a jittered wait (up to
  ``RESEND_JITTER``; or its ``Retry-After``), at the pace.
  Bounded, so a server that refuses everything still ends every call in
  ``RateLimitError``: ``FREE_RETRIES`` per key; none at ``MIN_RATE``, nor while the server
  admits nothing (only throttles for ``ACCEPTING`` s and ``ACCEPTING_SLOTS`` slots): then
  the fan-out does not pace either, and each call ends on its own retry schedule. So a
  key fails only after ``1 + max_retries + FREE_RETRIES`` refusals (``1 + max_retries``
  in a row once it was answered: its own limit).

The fan-out hands each operation a view of the client for its key that carries that key's
`Lane`: only requests made through it are paced (another client called inside the
operation is not, and its 429s do not steer this pace). The transport's attempt loop
asks the lane for a start slot before every attempt, retries included, and tells it every
status (`Lane.observe`, whose answer says whether a 429 is resent for free, and after how
long). Without a lane (plain calls) the transport does nothing extra.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import math
import random
from collections.abc import Hashable, Mapping
from typing import Final

from .._retry import parse_retry_after

__all__ = ["Lane", "Pacer"]

DECREASE: Final = 0.8  # multiplicative decrease on a throttle
INCREASE: Final = 0.1  # additive increase: this fraction of the last cut's pace, per second
STEP: Final = 0.01  # ... but at most this fraction of the pace per success (low rates)
SLOW_START_STEP: Final = 0.09  # after a halving: this much per success (doubles in 8)
MIN_RATE: Final = 0.5  # requests/s: the pace never stops the fan-out altogether
WINDOW: Final = 1.0  # seconds of starts that measure the accepted rate
MIN_ADMITTED: Final = 8  # ... and counts at least this many admitted ones (low rates)
MIN_SPAN: Final = 0.15  # ... at least this long since the first throttle, else halve the pace
BLIND_DECREASE: Final = 0.5  # the cut while the accepted rate is not known yet
SATURATED: Final = 0.5  # ... unless at least this share was refused: then to what got through
THRESHOLD: Final = 0.05  # share of throttled answers a cut needs at least
MIN_ANSWERS: Final = 8  # answers since the last cut before another may happen
RECENT: Final = 50  # the share of throttled answers is taken over the last this many
PROBE: Final = 25  # answers after a measured cut that tell whether it helped
BACKGROUND: Final = 0.8  # ... it did not if the throttled share fell by less than this
MAX_THRESHOLD: Final = 0.95  # ... up to this: above it, refusals are the server's, not the pace's
JUDGED_FOR: Final = 5.0  # seconds a raised threshold holds before cuts are tried again
FREE_RETRIES: Final = 10  # resends per key of 429s the pace caused, on top of max_retries
RESEND_JITTER: Final = 1.0  # seconds: a free resend waits a uniform draw below this first
ACCEPTING: Final = 2.0  # the server accepts while a request succeeded within this many seconds
ACCEPTING_SLOTS: Final = 4  # ... and this many slots at the pace
THROTTLE_STATUSES: Final = frozenset({429, 503})
_SEEN_KEYS: Final = 65536  # keys remembered for the per-key rule (a bounded memory)
_LATENCIES: Final = 64  # successes whose time to answer bounds the measuring window


class Pacer:
    """One fan-out's pace, shared by all of its tasks (single event loop, no locks)."""

    __slots__ = (
        "_admitted",
        "_answered",
        "_answers",
        "_before",
        "_began",
        "_cut_share",
        "_cut_slot",
        "_first_throttle",
        "_held",
        "_last_admitted",
        "_last_start",
        "_lately",
        "_latencies",
        "_line",
        "_loop",
        "_max_rate",
        "_paused_until",
        "_rate",
        "_recent",
        "_refusals",
        "_seen",
        "_slope",
        "_slow_start",
        "_started",
        "_threshold",
        "_threshold_until",
        "_throttles",
        "_timer",
        "adaptive",
        "retry_after_cap",
        "throttled",
    )

    def __init__(self, *, rate_limit: float | None, adaptive: bool, retry_after_cap: float) -> None:
        if rate_limit is not None and not (
            isinstance(rate_limit, (int, float)) and 0 < rate_limit < math.inf
        ):
            raise ValueError(
                f"rate_limit must be a positive number per second, got {rate_limit!r}."
            )
        self._loop = asyncio.get_running_loop()
        self._max_rate = math.inf if rate_limit is None else float(rate_limit)
        self._rate: float | None = None if rate_limit is None else float(rate_limit)
        self.adaptive = adaptive
        self.retry_after_cap = retry_after_cap
        self.throttled = 0  # 429/503 answers seen
        self._last_start = -math.inf  # the last request's start (loop clock)
        self._held = -math.inf  # when a request last had to wait for its slot
        self._line: collections.deque[asyncio.Future[float]] = collections.deque()  # waiting
        self._timer: asyncio.TimerHandle | None = None  # wakes the line's head
        self._paused_until = -math.inf
        self._cut_slot = -math.inf  # requests starting before it were spaced at an older pace
        self._slope = 0.0
        self._slow_start = False  # after a blind cut the pace climbs by half of itself per s
        self._answers = 0  # answers to requests started at the current pace
        # ... the last RECENT of them (True: throttled), and how many of those were
        self._recent: collections.deque[bool] = collections.deque(maxlen=RECENT)
        self._throttles = 0
        self._threshold = THRESHOLD
        self._threshold_until = math.inf
        self._cut_share: float | None = None
        self._first_throttle = math.inf
        self._began = self._loop.time()
        self._before = 0  # requests admitted that started before the first throttle
        self._last_admitted = -math.inf
        self._started = 0  # requests started before the first cut (its blind measure)
        # Start times of admitted requests (sorted), and how long successes took to answer.
        self._admitted: list[float] = []
        self._refusals: list[float] = []  # ... and of refused ones
        self._lately: float | None = None  # admitted per second lately (_accepted_rate)
        self._latencies: collections.deque[float] = collections.deque(maxlen=_LATENCIES)
        self._seen: set[int] = set()  # keys answered at all (for 503s)
        self._answered: set[int] = set()  # keys answered 2xx (a later 429: their own limit)

    @property
    def pace(self) -> float | None:
        """Requests per second now allowed; None while nothing limits the fan-out."""
        return self._rate

    def lane(self, key: Hashable) -> Lane:
        return Lane(self, key)

    def start_now(self) -> float | None:
        """`acquire`'s fast path without a coroutine: the slot, now, when nobody waits and
        the pace lets a request start; else None (then `acquire` waits for the slot)."""
        now = self._loop.time()
        if self._line or self._free_from(now) > now:
            return None
        self._started += 1
        self._last_start = now
        return now

    async def acquire(self) -> float:
        """Wait for this request's start slot; returns the slot (loop clock).

        Waiting requests stand in one line, and the head starts ``1 / pace`` after the
        last start at the pace of that moment: a slot is never promised at a pace since
        cut (at a low rate a line of such slots would last many seconds) or raised. The
        slot tells which pace the request was spaced at: one started before a cut
        (before `_cut_slot`) says nothing about the pace after it.
        """
        now = self._loop.time()
        self._started += 1
        if not self._line and self._free_from(now) <= now:
            self._last_start = now
            return now  # the fast path: nobody waits, the slot is free
        self._held = now
        waiter: asyncio.Future[float] = self._loop.create_future()
        self._line.append(waiter)
        if self._timer is None:
            self._dispatch()
        return await waiter

    def _free_from(self, now: float) -> float:
        """When the next request may start: after the pause, and the pace's spacing."""
        free = self._paused_until
        if self._rate is not None and self._accepting(now):
            free = max(free, self._last_start + 1.0 / self._rate)
        return free

    def _dispatch(self) -> None:
        """Start the head of the line if its slot came, else wake up when it comes."""
        self._timer = None
        line = self._line
        while line:
            if line[0].done():  # its task was cancelled while waiting
                line.popleft()
                continue
            now = self._loop.time()
            free = self._free_from(now)
            if free > now:
                self._timer = self._loop.call_at(free, self._dispatch)
                return
            self._last_start = now
            line.popleft().set_result(now)

    def _accepting(self, now: float) -> bool:
        """Whether the server admitted a request lately (or first throttled lately): any
        answer but a throttle, a sick upstream's 503 too.

        A server that accepts nothing has no pace to find: the fan-out neither paces nor
        resends free then, and each call ends on its own retry schedule, as unpaced.
        """
        since = max(self._last_admitted, self._first_throttle)
        if since == math.inf:
            return True
        patience = ACCEPTING + max(0.0, self._paused_until - now)
        if self._rate is not None:  # at a low pace, successes come seldom
            patience += ACCEPTING_SLOTS / self._rate
        return now - since <= patience

    def observe(
        self, lane: Lane, slot: float, status: int, headers: Mapping[str, str]
    ) -> float | None:
        """Learn from one answer (its status line and headers) to a request started then.

        A number: a 429 that the pace caused, not the key; the transport resends it after
        that many seconds (then at the pace) without spending one of the call's retries
        (`_excuse`). None: the answer stands (a retry, if any, is spent as usual).
        """
        if status in THROTTLE_STATUSES:
            self.throttled += 1
        if not self.adaptive:
            return None
        # Only a rate-limit signal speaks for the pace: a 429, or a 503 that says when to
        # come back. A plain 503 is as often a sick shard, whatever the pace (issue 30).
        throttled = status == 429 or (status == 503 and parse_retry_after(headers) is not None)
        now = self._loop.time()
        token = lane._token
        if 200 <= status < 300:
            self._succeeded(now, slot)
            if not _first_time(self._answered, token):
                return None  # a key's later answers speak for its own limit only
        elif not throttled:  # the limiter let it through to an upstream that failed it
            self._admit(now, slot)
            return None
        elif token in self._answered:
            return None  # over its own limit: its call backs off by the retry schedule
        elif status != 429 and not _first_time(self._seen, token):
            return None  # a 503 is a key's own trouble as often as the pace: once per key
        if throttled:
            if self._first_throttle == math.inf:
                self._first_throttle = now
            elif slot >= self._first_throttle:
                _insert(self._refusals, slot)
        # Until a key is first answered, each of its answers speaks for the shared pace (a
        # key refused in the unpaced start still tells, on its resends, whether the cut
        # pace is low enough), but only one to a request sent at the current pace.
        if slot >= self._cut_slot and self._accepting(now):
            self._judge(now, throttled, headers)
        return self._excuse(lane, status, headers, now) if throttled else None

    def _judge(self, now: float, throttled: bool, headers: Mapping[str, str]) -> None:
        """Count an answer at the current pace; cut the pace when too many were throttled."""
        self._answers += 1
        recent = self._recent
        if len(recent) == recent.maxlen:
            self._throttles -= recent[0]
        recent.append(throttled)
        self._throttles += throttled
        share = self._throttles / len(recent)
        if now >= self._threshold_until:  # a judgement holds a while, then cuts are retried
            self._threshold, self._threshold_until = THRESHOLD, math.inf
        judging = self._cut_share is not None
        if self._answers == PROBE and self._cut_share is not None:
            if share >= BACKGROUND * self._cut_share and self._throttles > 2:  # no help
                self._threshold = min(MAX_THRESHOLD, max(self._threshold, share + THRESHOLD))
                self._threshold_until = now + JUDGED_FOR
            self._cut_share = None
        if not throttled or share <= self._threshold:
            return  # one organization's 429 holds back only itself (its own retry waits)
        # A cut being judged is judged first, unless refusals clearly grew since it (the
        # pace still climbs above a limiter's rate): then waiting for PROBE answers at a low
        # rate would hold a pace that is too high for many seconds.
        clearly = judging and share > 2 * (self._cut_share or 0.0) + THRESHOLD
        if self._answers >= (PROBE if judging and not clearly else MIN_ANSWERS):
            retry_after = parse_retry_after(headers)
            # Beyond the cap the call gives up at once (as documented), so nobody waits for
            # it: pausing the whole fan-out for the cap would stall every other organization.
            if retry_after is not None and retry_after <= self.retry_after_cap:
                self._paused_until = max(self._paused_until, now + retry_after)
            self._cut(now, share)

    def _excuse(
        self, lane: Lane, status: int, headers: Mapping[str, str], now: float
    ) -> float | None:
        """After how long a 429 to a key not answered yet is resent without spending one of
        the call's retries (None: not resent for free; it spends a retry as usual).

        Until its first success a key's refusals are the shared pace's doing (the unpaced
        start, a pace still above the server's rate, a saw-tooth peak), whatever their
        share. Bounded, so that a server refusing everything still ends every call: at
        most ``FREE_RETRIES`` per key, none at the pace's floor or while the server
        accepts nothing (`_accepting`), none for a ``Retry-After`` beyond the cap (that
        call fails at once). A ``Retry-After`` within it is the resend's wait (it pauses
        the whole fan-out only when it comes with a cut: one organization's is its own).
        """
        if status != 429 or lane.excused >= FREE_RETRIES or not self._accepting(now):
            return None
        if self._rate is not None and self._rate <= MIN_RATE:
            return None
        retry_after = parse_retry_after(headers)
        if retry_after is not None and retry_after > self.retry_after_cap:
            return None
        lane.excused += 1
        if retry_after is not None:  # this key waits; only a cut pauses the fan-out (_judge)
            return retry_after
        # A jittered wait, so the refused keys do not all come back at once at a pace the
        # pacer is still cutting (full jitter, as backoff), then a slot at the pace.
        return random.uniform(0.0, RESEND_JITTER)

    def _accepted_rate(self, now: float) -> float | None:
        """Admitted requests per second of their start times, between two refused ones
        of the last ``2 * WINDOW`` whose answers are all in (since the first throttle).

        Counted by start, not by answer: a limiter answers its refusals at once while an
        admitted request waits for the upstream, so by answer time the burst before the
        first throttle lands after it and inflates the count. Between two refusals,
        because a refusal says the limiter was full: what it admitted between two is its
        rate, while over a stretch without refusals it admitted only what was offered
        (tasks waiting out a resend's jitter, a limiter's queue). None: not enough
        refusals, or too short a time between them, to tell.
        """
        latency = max(self._latencies, default=0.0)
        until = now - latency  # later starts may still succeed
        admitted, refusals = self._admitted, self._refusals
        last = bisect.bisect_left(refusals, until) - 1
        horizon = until - 2 * WINDOW
        end = bisect.bisect_left(admitted, until)
        if end >= MIN_ADMITTED:  # at a low rate, back to the last MIN_ADMITTED admitted
            horizon = min(horizon, admitted[end - MIN_ADMITTED])
        horizon = max(horizon, self._first_throttle)
        first = bisect.bisect_left(refusals, horizon)
        del refusals[:first]
        lately = until - WINDOW
        del admitted[: bisect.bisect_left(admitted, min(horizon, lately))]
        lately = max(lately, self._first_throttle)  # before it: a burst allowance
        span = until - lately
        count = bisect.bisect_left(admitted, until) - bisect.bisect_left(admitted, lately)
        # Shorter than a few answers' time, the offered load comes in waves (tasks waiting
        # for their answers) and the limiter refills between them unseen.
        known = span >= max(MIN_SPAN, 3 * latency) and count > 0
        self._lately = count / span if known else None
        last -= first
        if last < 1:
            return None
        since, until = refusals[0], refusals[last]
        if until - since < max(MIN_SPAN, 3 * latency):  # waves, as above
            return None
        count = bisect.bisect_left(admitted, until) - bisect.bisect_left(admitted, since)
        # A count is known to about one request: too few say little about a rate.
        return count / (until - since) if count >= MIN_ADMITTED else None

    def _cut(self, now: float, share: float) -> None:
        accepted = self._accepted_rate(now)
        held = False  # by the blind floor
        # Never below what the server admitted over the last second: between refusals a
        # limiter admits its rate only while it is offered more, and a window limiter
        # refuses everything until its next window, whatever the pace.
        lately = self._lately
        if accepted is not None and lately is not None:
            accepted = max(accepted, lately)
        if self._rate is None:  # the first cut: the unpaced start ran at this rate
            rate = BLIND_DECREASE * self._started / max(now - self._first_throttle, 0.01)
            if accepted is not None:
                rate = DECREASE * accepted
        elif accepted is None:  # the share refused tells how far above its rate we are
            rate = max(BLIND_DECREASE, DECREASE * (1.0 - share)) * self._rate
            if lately is not None and share >= SATURATED:
                # Refused more often than not: the server took all it could, so what it
                # took lately is its rate (down to it at once: halving one round of answers
                # at a time would take many seconds at a low rate).
                rate = max(DECREASE * lately, BLIND_DECREASE**3 * self._rate)
            elif lately is not None:
                rate = max(rate, DECREASE * lately)
            rate = min(self._rate, rate)
        else:  # a pace already below what the server admitted is not cut again
            rate = min(self._rate, DECREASE * accepted)
        if accepted is None and lately is None and now - self._first_throttle < WINDOW:
            # Blind in the first window: not below half what the unpaced start got through.
            # A window limiter refuses everything until its next window whatever the pace,
            # and halving per round of refusals would leave a few per second when it
            # reopens. Only then: a bucket's burst (or nginx's, held) is no rate to keep.
            opened = BLIND_DECREASE * self._before / max(WINDOW, self._first_throttle - self._began)
            held = opened > rate
            rate = max(rate, min(opened, self._rate or math.inf))
        rate = min(self._max_rate, max(MIN_RATE, rate))
        first = self._rate is None
        old = self._rate or 0.0
        self._rate = rate
        self._slope = INCREASE * rate
        # Slow start only after a pace at which nothing got through (a window limiter's
        # closed window can halve it far below the rate); after one that let some through,
        # the additive climb, or it would overshoot again at once.
        # And only after a halving: a cut that hardly lowered the pace (held up by what the
        # server admitted lately) climbing at slow start's speed overshoots at once.
        # A blind cut held at its floor was a halving too.
        halved = first or held or rate <= BLIND_DECREASE * old
        self._slow_start = accepted is None and self._throttles == len(self._recent) and halved
        self._cut_slot = now
        self._answers = self._throttles = 0
        self._recent.clear()
        # Judge only a cut to below a measured rate: blind halvings may well leave the pace
        # above a limiter's rate.
        self._cut_share = share if accepted is not None and not first else None

    def _admit(self, now: float, slot: float) -> None:
        """Count a request the server admitted (answered other than throttled) by its start:
        a sick upstream's 503s passed the limiter too, and left out they would make its
        rate look lower by their share."""
        self._last_admitted = now
        self._before += slot < self._first_throttle
        _insert(self._admitted, slot)
        if len(self._admitted) > 4096 and self._admitted[0] < now - 4 * WINDOW:
            self._accepted_rate(now)  # bounded without cuts

    def _succeeded(self, now: float, slot: float) -> None:
        self._latencies.append(now - slot)
        self._admit(now, slot)
        rate = self._rate
        # The pace grows only while it holds requests back (one waited lately): a pace
        # the fan-out does not reach says nothing, and a fan-out that sped up later (fewer
        # resends, faster answers) would start at a pace never tried.
        held = self._line or now - self._held <= 2.0 / rate if rate is not None else False
        if rate is not None and rate < self._max_rate and held:
            # + slope/rate per success: at ~rate successes/s, the pace climbs by slope per s;
            # after a blind cut (which may have gone far too low), by RECOVER of itself. At
            # a low rate a second holds few answers: at most STEP of the pace per success,
            # so the pace does not outrun what the answers can tell.
            step = SLOW_START_STEP if self._slow_start else min(self._slope / rate / rate, STEP)
            self._rate = min(self._max_rate, rate * (1.0 + step))


def _insert(times: list[float], time: float) -> None:
    """Keep ``times`` sorted (answers come back about in the order they were sent)."""
    if not times or time >= times[-1]:
        times.append(time)
    else:
        bisect.insort(times, time)


def _first_time(seen: set[int], token: int) -> bool:
    """True the first time ``token`` is added to ``seen`` (a bounded memory: when full it
    forgets them all, a rare extra "first")."""
    if token in seen:
        return False
    if len(seen) >= _SEEN_KEYS:
        seen.clear()
    seen.add(token)
    return True


class Lane:
    """One fan-out task's view of its `Pacer`, tagged with (a hash of) its key."""

    __slots__ = ("_token", "excused", "pacer")

    def __init__(self, pacer: Pacer, key: Hashable) -> None:
        self.pacer = pacer
        self.excused = 0  # this key's 429s resent without spending a retry
        self._token = hash(key)  # in memory only: the lane keeps no reference to the key

    def __repr__(self) -> str:
        return f"<Lane pace={self.pacer.pace}>"  # never the key

    async def acquire(self) -> float:
        """Wait for the next start slot; returns the slot (see `Pacer.acquire`)."""
        return await self.pacer.acquire()

    def observe(self, slot: float, status: int, headers: Mapping[str, str]) -> float | None:
        """Tell the pace an answer; a number: resend a 429 after that many seconds, free."""
        return self.pacer.observe(self, slot, status, headers)
