"""Paid invoices across many organizations as a Dask DataFrame, for more than one machine.

    import dask
    import apibricks.dask

    result = apibricks.dask.paid_invoices(keys, partition_size=1000)
    invoices, failures = dask.compute(result.invoices, result.failures)

Each partition is one batch of keys: a worker rebuilds an `AsyncClient` from the
settings and runs one `fan_out` over the batch, so a partition costs one connection pool
and one event loop, whatever its size. Both frames come from the same tasks: compute them
together (or ``result.persist()``) so each batch is fetched once.

The keys travel inside the graph only as `KeyBatch` objects, whose repr and str show a
count; task names are a random token and a partition number. Failures are plain text
(key hint, error type, message), so nothing a worker logs, the dashboard shows or a
pickled result carries contains a key. Needs the ``dask`` extra.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import secrets
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs

from ._async._client import AsyncClient
from ._auth import SecretKey, key_hint
from ._export import require, to_pandas
from ._models import Invoice
from ._outcome import Outcome
from ._settings import ClientSettings, settings_from

if TYPE_CHECKING:
    import dask.dataframe
    import pandas

__all__ = ["FAILURE_COLUMNS", "DaskPaidInvoices", "KeyBatch", "paid_invoices"]

FAILURE_COLUMNS: Final = ("index", "key_hint", "error_type", "status_code", "message")
DEFAULT_PARTITION_SIZE: Final = 1000


@attrs.frozen(repr=False, eq=False)
class KeyBatch:
    """A slice of the input keys as a task argument; shows as a count, never as keys."""

    start: int
    keys: tuple[SecretKey, ...]

    def __repr__(self) -> str:
        return f"<KeyBatch start={self.start} keys={len(self.keys)}>"

    __str__ = __repr__


@attrs.frozen
class DaskPaidInvoices:
    """The lazy result of `paid_invoices`.

    Attributes:
        invoices: one row per invoice, columns as `apibricks.to_pandas`.
        failures: one row per key that failed: ``index`` (its position in the input),
            ``key_hint``, ``error_type`` (e.g. ``AuthenticationError``), ``status_code``
            (nullable) and ``message``.
    """

    invoices: dask.dataframe.DataFrame
    failures: dask.dataframe.DataFrame

    def persist(self) -> DaskPaidInvoices:
        """Both frames persisted in one call, so each batch is fetched once."""
        dask = require("dask", "dask")
        invoices, failures = dask.persist(self.invoices, self.failures)
        return DaskPaidInvoices(invoices, failures)


def paid_invoices(
    keys: Iterable[str],
    *,
    settings: ClientSettings | None = None,
    partition_size: int = DEFAULT_PARTITION_SIZE,
    concurrency: int = 32,
) -> DaskPaidInvoices:
    """Every key's paid invoices as a Dask DataFrame, plus a frame of the keys that failed.

    Args:
        keys: One API key per organization; read once, on this machine.
        settings: How workers build their client (``client.settings`` of a configured
            client, or `ClientSettings(...)`); None means what ``AsyncClient()`` would use:
            the defaults and the environment variables (``$APIBRICKS_BASE_URL``...), read
            here, since workers may not share this machine's environment.
        partition_size: Keys per partition (one fan-out on one worker).
        concurrency: Requests in flight per partition; at most ``settings.max_connections``.

    Every key ends as its invoices (possibly none) or one failure row: nothing is lost.
    A key listed twice yields its invoices twice.
    """
    single = isinstance(keys, (str, bytes))
    pending = map(SecretKey, keys)  # SecretKey never raises
    del keys  # crash reporters print this frame's locals: keep the keys as hints only
    if single:
        raise TypeError("keys must be an iterable of API keys, not a single key.")
    if isinstance(partition_size, bool) or not isinstance(partition_size, int):
        raise TypeError(f"partition_size must be an int, got {type(partition_size).__name__}.")
    if partition_size < 1:
        raise ValueError(f"partition_size must be >= 1, got {partition_size}.")
    dask = require("dask", "dask")
    dd = require("dask.dataframe", "dask")
    require("distributed", "dask")
    if settings is None:
        settings = settings_from()  # here: the workers' environment may differ
    elif not isinstance(settings, ClientSettings):
        raise TypeError(f"settings must be an apibricks.ClientSettings, not {type(settings)}.")
    _check_concurrency(concurrency, settings.max_connections)
    batches = _batches(pending, partition_size)
    token = secrets.token_hex(8)  # task names: never derived from the keys
    parts = [
        dask.delayed(_fetch_partition, pure=False)(
            batch, settings, concurrency, dask_key_name=f"apibricks-fetch-{token}-{i}"
        )
        for i, batch in enumerate(batches)
    ]

    def frame(position: int, meta: pandas.DataFrame, name: str) -> Any:
        pieces = [
            dask.delayed(_pick, pure=True)(part, position, dask_key_name=f"{name}-{token}-{i}")
            for i, part in enumerate(parts)
        ]
        if not pieces:
            return dd.from_pandas(meta, npartitions=1)
        return dd.from_delayed(pieces, meta=meta, prefix=f"{name}-{token}")

    return DaskPaidInvoices(
        frame(0, to_pandas(()), "apibricks-invoices"),
        frame(1, _failures_frame(()), "apibricks-failures"),
    )


def _check_concurrency(concurrency: int, max_connections: int) -> None:
    """Fail here rather than once per partition on the workers."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an int >= 1, got {concurrency!r}.")
    if max_connections and concurrency > max_connections:
        raise ValueError(
            f"concurrency={concurrency} exceeds settings.max_connections={max_connections}; "
            f"raise max_connections (attrs.evolve(settings, max_connections=...)) or lower "
            f"concurrency."
        )


def _batches(pending: Iterator[SecretKey], size: int) -> list[KeyBatch]:
    batches: list[KeyBatch] = []
    while chunk := tuple(itertools.islice(pending, size)):
        batches.append(KeyBatch(len(batches) * size, chunk))
    return batches


def _pick(pair: tuple[pandas.DataFrame, pandas.DataFrame], position: int) -> pandas.DataFrame:
    return pair[position]


def _fetch_partition(
    batch: KeyBatch, settings: ClientSettings, concurrency: int
) -> tuple[pandas.DataFrame, pandas.DataFrame]:
    """On a worker: one fan-out over the batch, as (invoices, failures) frames."""
    outcomes = _run(_fan_out(batch, settings, concurrency))
    invoices = [invoice for outcome in outcomes for invoice in outcome.value or ()]
    failed = [outcome for outcome in outcomes if outcome.error is not None]
    return to_pandas(invoices), _failures_frame(failed)


async def _fan_out(
    batch: KeyBatch, settings: ClientSettings, concurrency: int
) -> list[Outcome[list[Invoice]]]:
    outcomes: list[Outcome[list[Invoice]]] = []
    async with AsyncClient.from_settings(settings) as client:
        keys = (key.reveal() for key in batch.keys)  # a generator: no list of raw keys
        stream = client.fan_out(keys, lambda org: org.invoices.list_paid(), concurrency=concurrency)
        async with contextlib.aclosing(stream) as results:
            async for outcome in results:
                outcomes.append(attrs.evolve(outcome, index=batch.start + outcome.index))
    outcomes.sort(key=lambda outcome: outcome.index)
    return outcomes


def _run(coroutine: Any) -> Any:
    """``asyncio.run``, also from a thread whose loop is already running (a local scheduler
    called from async code): then on a fresh thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _failures_frame(outcomes: Sequence[Outcome[Any]]) -> pandas.DataFrame:
    pd = require("pandas", "dask")
    rows = {
        "index": pd.array([outcome.index for outcome in outcomes], dtype="int64"),
        "key_hint": pd.array([key_hint(outcome.key) for outcome in outcomes], dtype="string"),
        "error_type": pd.array(
            [type(outcome.error).__name__ for outcome in outcomes], dtype="string"
        ),
        "status_code": pd.array(
            [getattr(outcome.error, "status_code", None) for outcome in outcomes], dtype="Int64"
        ),
        "message": pd.array([str(outcome.error) for outcome in outcomes], dtype="string"),
    }
    return pd.DataFrame(rows, columns=list(FAILURE_COLUMNS))
