"""The fan-out engine behind `AsyncClient.fan_out`: one operation per key, bounded, streamed.

Shape, and why:

* At most ``concurrency`` tasks exist at any time; keys are pulled from the input only
  when a slot frees up, so 10**5 keys from a generator cost ``concurrency`` tasks and
  ``concurrency`` pending results, not 10**5 of anything.
* Each task reports through a done-callback into a deque; the generator sleeps on one
  future until something finished. (``asyncio.wait(FIRST_COMPLETED)`` would re-register
  callbacks on every running task for every result: O(concurrency) per key.)
* A task never raises for a per-key failure: it returns an error `Outcome`, so nothing is
  lost and one organization never stops the others.
* Leaving early (``break``, an exception in the consumer, cancellation, ``aclose()`` or
  garbage collection of an abandoned generator) runs the ``finally`` below, which cancels
  the in-flight tasks and waits for them, so no task outlives the generator.
* Each operation gets its key's view of the client, made by the client's ``key_view``
  with that key's `Lane` of the fan-out's `Pacer`: the transport paces every attempt made
  through that view (retries too) and reports every status to it, so one 429 slows the
  whole fan-out (see ``_pacing``); another client the operation calls is neither paced
  nor heard. The engine knows nothing else of the client: it imports none of it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sized
from typing import TYPE_CHECKING, TypeVar

from .._auth import SecretKey
from .._exceptions import APIBricksError
from .._models import Invoice
from .._outcome import OperationError, Outcome, PaidInvoicesReport, Progress
from ._pacing import Lane, Pacer

if TYPE_CHECKING:
    from ._transport import Transport

__all__ = ["check_concurrency", "fan_out", "paid_invoices_report"]

T = TypeVar("T")
View = TypeVar("View")  # the client's view for one key, as ``key_view`` makes it

ProgressCallback = Callable[[Progress], object]


def pool_limit(transport: Transport) -> int:
    """How many requests the client's connection pool can carry at once (0: no limit)."""
    session = transport._session
    if session is None or transport._owns_session:
        return transport.max_connections
    connector = session.connector  # an injected session: its own connector decides
    if connector is None:
        return 0
    limits = [n for n in (connector.limit, getattr(connector, "limit_per_host", 0)) if n]
    return min(limits, default=0)


def check_concurrency(transport: Transport, concurrency: int) -> None:
    """Refuse a bound the pool would silently lower: the caller asked for that many at once."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an int >= 1, got {concurrency!r}.")
    limit = pool_limit(transport)
    if limit and concurrency > limit:
        raise ValueError(
            f"concurrency={concurrency} exceeds this client's connection pool "
            f"(max_connections={limit}): only {limit} requests could run at once and the "
            f"rest would queue for a connection. Create the client with "
            f"max_connections={concurrency} (or 0 for no limit), or lower concurrency."
        )


async def _run_one(
    key_view: Callable[[SecretKey, Lane], View],
    index: int,
    key: SecretKey,
    operation: Callable[[View], Awaitable[T]],
    pacer: Pacer,
) -> Outcome[T]:
    try:
        org = key_view(key, pacer.lane(key))  # a bad key fails here: nothing is sent for it
        value = await operation(org)
    except APIBricksError as error:
        return Outcome(index, key.reveal(), error=error)
    except Exception as exc:  # a bug in the caller's operation; BaseException propagates
        wrapped = OperationError(f"The operation raised {type(exc).__name__}: {exc}")
        wrapped.__cause__ = exc
        return Outcome(index, key.reveal(), error=wrapped)
    return Outcome(index, key.reveal(), value=value)


async def fan_out(
    transport: Transport,
    key_view: Callable[[SecretKey, Lane], View],
    keys: Iterable[str],
    operation: Callable[[View], Awaitable[T]],
    *,
    retry_after_cap: float,
    concurrency: int,
    rate_limit: float | None,
    adaptive: bool,
    on_progress: ProgressCallback | None,
) -> AsyncGenerator[Outcome[T], None]:
    """Yield one `Outcome` per key, in completion order (see `AsyncClient.fan_out`).

    ``key_view(key, lane)`` makes the view ``operation`` gets for ``key``, paced by ``lane``;
    ``transport`` is the pool they share.
    """
    single = isinstance(keys, (str, bytes))
    total = len(keys) if isinstance(keys, Sized) else None
    pending = enumerate(map(SecretKey, keys))
    del keys  # crash reporters print this frame's locals: keep the keys as hints only
    if single:
        raise TypeError("keys must be an iterable of API keys, not a single key.")
    if transport.closed:  # fail once, not once per key
        raise APIBricksError("This client is closed; create a new one.")
    check_concurrency(transport, concurrency)
    pacer = Pacer(rate_limit=rate_limit, adaptive=adaptive, retry_after_cap=retry_after_cap)
    transport.traced_fan_out(pacer)
    loop = asyncio.get_running_loop()
    began = loop.time()
    running: set[asyncio.Task[Outcome[T]]] = set()
    finished: collections.deque[asyncio.Task[Outcome[T]]] = collections.deque()
    wakeup: asyncio.Future[None] | None = None
    input_error: Exception | None = None
    exhausted = False
    done = errors = 0

    def on_done(task: asyncio.Task[Outcome[T]]) -> None:
        running.discard(task)
        finished.append(task)
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    try:
        while True:
            # Refill: pulled-but-not-yielded never exceeds `concurrency`.
            while not exhausted and len(running) + len(finished) < concurrency:
                try:
                    index, key = next(pending)
                except StopIteration:
                    exhausted = True
                except Exception as exc:  # the caller's iterable broke: finish, then raise
                    exhausted, input_error = True, exc
                else:
                    task = loop.create_task(_run_one(key_view, index, key, operation, pacer))
                    running.add(task)
                    task.add_done_callback(on_done)
            if not finished:
                if not running:
                    break
                wakeup = loop.create_future()
                await wakeup
                wakeup = None
                continue
            outcome = finished.popleft().result()
            done += 1
            errors += outcome.error is not None
            if on_progress is not None:
                elapsed = loop.time() - began
                on_progress(
                    Progress(
                        done,
                        total,
                        errors,
                        elapsed=elapsed,
                        rate=done / elapsed if elapsed > 0 else 0.0,
                        pace=pacer.pace,
                        throttled=pacer.throttled,
                    )
                )
            yield outcome
        if input_error is not None:
            raise input_error
    finally:
        transport.fan_out_ended(pacer)
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)


async def paid_invoices_report(
    outcomes: AsyncGenerator[Outcome[list[Invoice]], None],
) -> PaidInvoicesReport:
    """Every key's paid invoices, gathered into a report (see the `AsyncClient` method)."""
    async with contextlib.aclosing(outcomes):
        return PaidInvoicesReport.from_outcomes([outcome async for outcome in outcomes])
