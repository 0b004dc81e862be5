"""`Deadline`: one attempt's time limit, with ``asyncio.timeout``'s rule.

Schedules are counted in loop turns (``asyncio.sleep(0)``), never in seconds, so every
case is deterministic: a deadline of 0 fires on the next turn, as ``asyncio.timeout(0)``
does. Each generated schedule is run under both and must end the same way (on 3.10, against
the backport the transport used there).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apibricks._deadline import Deadline

# A deadline in seconds: due at once (the next turn), or too far away to matter here.
SECONDS = st.sampled_from([0.0, -1.0, 3600.0, None])


async def _turns(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def _scenario(
    limit: Callable[[float | None], Any],
    seconds: float | None,
    work: int,
    cancel_at: int | None,
    after: int,
) -> tuple[str, int]:
    """Run ``work`` turns under ``limit(seconds)`` (a sync or an async context manager),
    the task cancelled from outside at turn ``cancel_at`` (if any), then ``after`` turns
    more; how it ended, and the task's count of pending cancellations (3.11+)."""

    async def body() -> tuple[str, int]:
        try:
            block = limit(seconds)
            if isinstance(block, contextlib.AbstractAsyncContextManager):
                async with block:
                    await _turns(work)
            else:
                with block:
                    await _turns(work)
            await _turns(after)  # a cancellation left behind would surface here
            outcome = "done"
        except asyncio.TimeoutError:
            outcome = "timeout"
        except asyncio.CancelledError:
            outcome = "cancelled"
        task = asyncio.current_task()
        assert task is not None
        if sys.version_info >= (3, 11):
            return outcome, task.cancelling()
        return outcome, 0

    async def main() -> tuple[str, int]:
        task = asyncio.ensure_future(body())
        if cancel_at is not None:
            await _turns(cancel_at)
            task.cancel()
        try:
            return await task
        except asyncio.CancelledError:  # cancelled before it started
            return "cancelled", 0

    return asyncio.run(main())


def _stdlib_timeout() -> Callable[[float | None], Any]:
    """What `Deadline` replaced: ``asyncio.timeout``, or on 3.10 its backport (aiohttp's)."""
    if sys.version_info >= (3, 11):
        return asyncio.timeout
    from async_timeout import timeout

    return timeout


schedules = given(
    seconds=SECONDS,
    work=st.integers(0, 4),
    cancel_at=st.none() | st.integers(0, 5),
    after=st.integers(0, 2),
)


@settings(max_examples=300, deadline=None)
@schedules
def test_ends_as_asyncio_timeout_does(
    seconds: float | None, work: int, cancel_at: int | None, after: int
) -> None:
    ours = _scenario(Deadline, seconds, work, cancel_at, after)
    theirs = _scenario(_stdlib_timeout(), seconds, work, cancel_at, after)
    assert ours == theirs


@settings(max_examples=100, deadline=None)
@given(seconds=SECONDS, work=st.integers(0, 4), after=st.integers(0, 2))
def test_left_alone_it_times_out_only_when_due(
    seconds: float | None, work: int, after: int
) -> None:
    """Stated directly, so 3.10 (no ``asyncio.timeout`` to compare with) is held to it."""
    due = seconds is not None and seconds <= 0 and work > 0  # fires on the next turn
    assert _scenario(Deadline, seconds, work, None, after) == ("timeout" if due else "done", 0)


async def test_a_block_that_ends_in_time_leaves_no_cancellation_behind() -> None:
    deadline = Deadline(0)  # due, but the block ends before the loop turns
    with deadline:
        pass
    await _turns(3)
    assert not deadline.expired


async def test_a_deadline_made_but_never_entered_cancels_nothing() -> None:
    deadline = Deadline(0)
    await _turns(3)  # a timer started on creation would have cancelled this task by now
    assert not deadline.expired


async def test_the_expired_one_of_nested_deadlines_raises() -> None:
    with Deadline(3600) as outer:
        with pytest.raises(asyncio.TimeoutError), Deadline(0) as inner:
            await _turns(2)
        await _turns(2)
    assert inner.expired and not outer.expired

    with pytest.raises(asyncio.TimeoutError), Deadline(0) as outer, Deadline(3600) as inner:
        await _turns(2)
    assert outer.expired and not inner.expired


async def test_outside_a_task_is_refused() -> None:
    """From a loop callback (no task to cancel), a limit cannot be kept: refused."""
    loop = asyncio.get_running_loop()
    refused: asyncio.Future[BaseException] = loop.create_future()

    def callback() -> None:
        try:
            with Deadline(1.0):
                pass
        except RuntimeError as error:
            refused.set_result(error)

    loop.call_soon(callback)
    assert "inside a task" in str(await refused)
    assert not Deadline(None).expired  # no limit needs no task
