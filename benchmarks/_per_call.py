"""One way to time calls that both small-request benchmarks share, so their figures agree.

Every call is timed on its own. A round runs each contender ``calls`` times back to back
(as a script calling in a loop does), the contenders in an order that rotates from round
to round and reverses every other round, so drift, the machine's other load and what ran
just before fall on all of them alike. A contender is summarized by the median of all its
calls; "what B adds over A" is the difference of those two medians, taken from the same
rounds, with the spread of the same difference round by round beside it: one number from
one noisy median minus another from a different run is how two scripts once reported 45
and 71 µs for the same facade.
"""

from __future__ import annotations

import gc
import inspect
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timings:
    """Per-call microseconds of one contender: ``rounds[r]`` holds round ``r``'s calls;
    ``cpu[r]`` is this process's CPU time per call in round ``r`` (all its threads)."""

    rounds: list[list[float]]
    cpu: list[float]

    @property
    def calls(self) -> list[float]:
        return [t for round_ in self.rounds for t in round_]

    @property
    def median(self) -> float:
        return statistics.median(self.calls)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.calls)

    @property
    def p90(self) -> float:
        return statistics.quantiles(self.calls, n=10)[-1]

    @property
    def cpu_per_call(self) -> float:
        """Median over rounds: what the call costs in CPU, much steadier than the wall
        clock on a loaded machine (it leaves out waiting for a core)."""
        return statistics.median(self.cpu)


@dataclass(frozen=True)
class Added:
    """What ``slow`` adds per call over ``fast``, measured in the same rounds."""

    median: float  # median(slow) - median(fast), all calls
    mean: float
    per_round: list[float]  # the same difference of medians, round by round
    cpu: float  # CPU per call, slow minus fast

    def describe(self) -> str:
        low, high = min(self.per_round), max(self.per_round)
        middle = statistics.median(self.per_round)
        return (
            f"{self.median:.1f} µs (mean {self.mean:.1f} µs; round by round {low:.1f} to "
            f"{high:.1f}, median {middle:.1f}, over {len(self.per_round)} rounds; "
            f"CPU {self.cpu:+.1f} µs)"
        )


def added(slow: Timings, fast: Timings) -> Added:
    per_round = [
        statistics.median(s) - statistics.median(f)
        for s, f in zip(slow.rounds, fast.rounds, strict=True)
    ]
    cpu = slow.cpu_per_call - fast.cpu_per_call
    return Added(slow.median - fast.median, slow.mean - fast.mean, per_round, cpu)


def round_order(labels: list[str], r: int) -> list[str]:
    """Round ``r``'s order: rotated, and reversed every other round. Rotation alone keeps
    each contender after the same neighbour, and what ran just before matters here (one
    sync client measured 110 or 200 µs slower than the async one, as it ran after another
    sync client or after the async one, whose batch leaves the loop thread's core idle)."""
    shift = r % len(labels)
    order = labels[shift:] + labels[:shift]
    return order[::-1] if r % 2 else order


async def time_rounds(
    contenders: Mapping[str, Callable[[], Any]], rounds: int, calls: int, warm_up: int = 20
) -> dict[str, Timings]:
    """Per-call timings of every contender; a contender returning an awaitable is awaited.

    Runs inside an event loop so that async contenders can be awaited; a sync contender
    blocks that loop while it runs, as sync code called from a notebook cell does.
    """
    labels = list(contenders)
    is_async = {}
    for label, call in contenders.items():  # warm up; learn which ones to await
        result = call()
        is_async[label] = inspect.isawaitable(result)
        if is_async[label]:
            await result
        for _ in range(warm_up - 1):
            result = call()
            if is_async[label]:
                await result
    times: dict[str, list[list[float]]] = {label: [] for label in labels}
    cpu: dict[str, list[float]] = {label: [] for label in labels}
    clock, cpu_clock = time.perf_counter, time.process_time
    for r in range(rounds):
        for label in round_order(labels, r):
            call, these = contenders[label], []
            gc.collect()  # every batch starts with the same (empty) debt
            cpu_start = cpu_clock()
            if is_async[label]:
                for _ in range(calls):
                    start = clock()
                    await call()
                    these.append((clock() - start) * 1e6)
            else:
                for _ in range(calls):
                    start = clock()
                    call()
                    these.append((clock() - start) * 1e6)
            cpu[label].append((cpu_clock() - cpu_start) / calls * 1e6)
            times[label].append(these)
    return {label: Timings(times[label], cpu[label]) for label in labels}
