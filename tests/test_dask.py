"""`apibricks.dask.paid_invoices` on a real two-process `LocalCluster` against the sandbox.

One cluster and one sandbox (on a thread, bound to 127.0.0.1 so the worker processes reach
it) serve the whole module: starting a cluster costs seconds.
"""

from __future__ import annotations

import asyncio
import copyreg
import importlib
import pickle
import secrets
import sys
import time
import traceback
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

import apibricks
import apibricks.dask
from apibricks import sandbox

if TYPE_CHECKING:
    import distributed

# Imported by the tests, not at collection: importing dask (or distributed) installs
# tblib's pickling for every exception class, process-wide, through copyreg; see below.
dask: Any = None
distributed: Any = None  # type: ignore[no-redef]

GOOD = [f"sk_sandbox_org{i:02d}" for i in range(20)] + ["sk_sandbox_few~n2", "sk_sandbox_none~n0"]
FAULTY = ["sk_sandbox_x~401", "sk_sandbox_gone~404", "sk_sandbox_flaky~503x1", "not a key\n"]
PACKAGE = str(Path(apibricks.__file__).parent)
KEYS = [*GOOD[:10], *FAULTY[:2], *GOOD[10:], GOOD[3], *FAULTY[2:]]  # GOOD[3] twice


@pytest.fixture(scope="module", autouse=True)
def _dask_imported_and_undone() -> Iterator[None]:
    """Import dask and distributed for this module, then undo their global side effect.

    Importing them runs ``tblib.pickling_support.install()``, which registers a reducer
    for every exception class in ``copyreg.dispatch_table`` for the rest of the process,
    overriding the errors' own pickling that later test modules check.
    """
    global dask, distributed
    saved = dict(copyreg.dispatch_table)
    dask = importlib.import_module("dask")
    distributed = importlib.import_module("distributed")
    yield
    copyreg.dispatch_table.clear()
    copyreg.dispatch_table.update(saved)


@pytest.fixture(scope="module")
def server() -> Iterator[sandbox.Sandbox]:
    server = sandbox.Sandbox(invoices_per_org=3)
    with server.serve_in_thread("127.0.0.1", 0):
        yield server


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.Client]:
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as local,
        distributed.Client(local) as client,
    ):
        yield client


@pytest.fixture
def base_url(server: sandbox.Sandbox, monkeypatch: pytest.MonkeyPatch) -> str:
    assert server.url is not None
    monkeypatch.setenv("APIBRICKS_BASE_URL", server.url)
    server.reset_stats()
    return server.url


def local_report(base_url: str) -> apibricks.PaidInvoicesReport:
    async def run() -> apibricks.PaidInvoicesReport:
        async with apibricks.AsyncClient(base_url=base_url) as client:
            return await client.paid_invoices_by_organization(KEYS)

    return asyncio.run(run())


def test_same_invoices_and_failures_as_the_local_fan_out(
    cluster: distributed.Client, base_url: str
) -> None:
    result = apibricks.dask.paid_invoices(KEYS, partition_size=5)
    assert result.invoices.npartitions == 6

    invoices, failures = dask.compute(result.invoices, result.failures)

    report = local_report(base_url)
    local_rows = [invoice for entry in report for invoice in entry.invoices]
    assert len(invoices) == len(local_rows) == 22 * 3 + 2  # GOOD[3] counts twice; flaky recovers
    assert sorted(zip(invoices["id_organization"], invoices["id"], strict=True)) == sorted(
        (str(invoice.id_organization), invoice.id) for invoice in local_rows
    )
    assert invoices["amount_usd_cents"].sum() == sum(i.amount_usd_cents for i in local_rows)
    assert invoices.dtypes.equals(result.invoices.dtypes)  # the partitions match the meta
    assert list(invoices.columns) == list(apibricks.to_pandas(local_rows).columns)
    assert str(invoices["created"].dtype) == "datetime64[us, UTC]"
    assert invoices["amount_usd"].sum() == sum(i.amount_usd for i in local_rows)  # exact
    expected = [
        (entry.index, type(entry.error).__name__, getattr(entry.error, "status_code", None))
        for entry in report.failures
    ]
    got = sorted(
        (row.index, row.error_type, None if pd.isna(row.status_code) else row.status_code)
        for row in failures.itertuples()
    )
    assert got == expected
    assert [error_type for _, error_type, _ in got] == [
        "AuthenticationError",
        "NotFoundError",
        "APIKeyError",
    ]
    assert failures["key_hint"].tolist() == ["…~401", "…~404", "…"]
    assert all("Sandbox fault" in message for message in failures["message"][:2])


def test_workers_use_the_settings_given(cluster: distributed.Client, base_url: str) -> None:
    settings = apibricks.ClientSettings(base_url=base_url, max_retries=0)
    keys = ["sk_sandbox_flaky~503x1", "sk_sandbox_fine"]
    result = apibricks.dask.paid_invoices(keys, settings=settings, partition_size=1)

    invoices, failures = dask.compute(result.invoices, result.failures)

    assert len(invoices) == 3  # only the fine key: without retries the 503 is final
    assert failures[["index", "error_type", "status_code"]].values.tolist() == [
        [0, "InternalServerError", 503]
    ]


def test_settings_left_out_are_the_library_defaults_read_here(
    cluster: distributed.Client, server: sandbox.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ``settings=``: the declared defaults (`_defaults.SETTINGS`), read on this machine."""
    from apibricks import _defaults

    monkeypatch.delenv("APIBRICKS_BASE_URL", raising=False)
    for name, value in (("base_url", server.url), ("max_retries", 0)):
        row = _defaults.SETTINGS[name]._replace(default=value)
        monkeypatch.setitem(_defaults.SETTINGS, name, row)
    server.reset_stats()
    keys = ["sk_sandbox_defaults~503x1", "sk_sandbox_fine"]
    result = apibricks.dask.paid_invoices(keys, partition_size=1)

    invoices, failures = dask.compute(result.invoices, result.failures)

    assert len(invoices) == 3  # the workers used the changed defaults: no retry of the 503
    assert failures[["index", "error_type", "status_code"]].values.tolist() == [
        [0, "InternalServerError", 503]
    ]


def test_persist_fetches_each_key_once(
    cluster: distributed.Client, server: sandbox.Sandbox, base_url: str
) -> None:
    keys = GOOD[:9]
    result = apibricks.dask.paid_invoices(keys, partition_size=4).persist()

    invoices = result.invoices.compute()
    failures = result.failures.compute()

    assert len(invoices) == 9 * 3 and len(failures) == 0
    assert server.total_requests == 9
    assert [server.requests_for(key) for key in keys] == [1] * 9


def test_keys_never_leave_as_text(cluster: distributed.Client, base_url: str) -> None:
    result = apibricks.dask.paid_invoices(KEYS, partition_size=5)
    graph = {**result.invoices.__dask_graph__(), **result.failures.__dask_graph__()}

    with distributed.get_task_stream() as stream:
        invoices, failures = dask.compute(result.invoices, result.failures)

    assert len(failures) == 3
    names = [str(key) for key in graph] + [str(task["key"]) for task in stream.data]
    assert any("apibricks-fetch" in name for name in names)
    shown = "\n".join(names + [repr(task) for task in graph.values()])
    logs = "\n".join(
        message
        for source in (cluster.get_worker_logs(), {"scheduler": cluster.get_scheduler_logs()})
        for entries in source.values()
        for _, message in entries
    )
    pickled = pickle.dumps(failures) + pickle.dumps(invoices)
    for key in KEYS:
        assert key not in shown
        assert key not in logs
        assert key.encode() not in pickled


def test_the_dashboard_shows_no_key(cluster: distributed.Client, base_url: str) -> None:
    """The scheduler's web pages (task, workers, exceptions, logs) while results are held."""
    result = apibricks.dask.paid_invoices(KEYS, partition_size=5).persist()
    distributed.wait([result.invoices, result.failures])
    held = [str(key) for key in cluster.who_has()]  # every key the scheduler holds
    fetches = [key for key in held if key.startswith("apibricks-fetch-")]
    assert fetches, held
    dashboard = cluster.dashboard_link.rsplit("/", 1)[0]
    pages = [f"/info/task/{urllib.parse.quote(key, safe='')}.html" for key in held]
    pages += ["/info/main/workers.html", "/info/main/exceptions.html", "/info/main/logs.html"]
    pages += [
        f"/info/logs/{urllib.parse.quote(worker, safe='')}.html"
        for worker in cluster.scheduler_info()["workers"]
    ]
    for page in pages:
        with urllib.request.urlopen(dashboard + page, timeout=30) as answer:
            text = answer.read().decode()
        assert "apibricks" in text or "/info/task/" not in page, page
        for key in KEYS:
            assert key not in text, page


def worker_logs(client: distributed.Client) -> str:
    return "\n".join(m for entries in client.get_worker_logs().values() for _, m in entries)


def test_a_failing_partition_logs_no_key(cluster: distributed.Client, base_url: str) -> None:
    """A task that raises is logged by its worker with (a repr of) its arguments; the keys
    travel as a `KeyBatch`, which shows as a count."""
    batch = apibricks.dask.KeyBatch(0, tuple(KEYS))
    assert repr(batch) == str(batch) == f"<KeyBatch start=0 keys={len(KEYS)}>"
    future = cluster.submit(
        apibricks.dask._fetch_partition,
        batch,
        apibricks.ClientSettings(base_url=base_url),
        0,
        pure=False,
    )
    with pytest.raises(ValueError, match="concurrency") as raised:
        future.result()

    deadline = time.monotonic() + 30
    while "Compute Failed" not in (logs := worker_logs(cluster)):  # the log ships on its own
        assert time.monotonic() < deadline, "the worker never logged the failure"
        distributed.wait(cluster.submit(time.monotonic, pure=False))  # one round trip
    pickled = pickle.dumps(raised.value)
    for key in KEYS:
        assert key not in logs
        assert key.encode() not in pickled


@pytest.mark.parametrize(
    ("kwargs", "blocked", "error"),
    [({}, "distributed", ImportError), ({"concurrency": 0}, None, ValueError)],
)
def test_an_early_error_leaves_no_key_in_traceback_locals(
    monkeypatch: pytest.MonkeyPatch,
    kwargs: dict[str, Any],
    blocked: str | None,
    error: type[Exception],
) -> None:
    """Crash reporters print every frame's locals: ours hold the keys only as hints."""
    secret = "sk_sandbox_L0CALS" + secrets.token_hex(8)
    if blocked is not None:
        monkeypatch.setitem(sys.modules, blocked, None)
    with pytest.raises(error) as raised:
        apibricks.dask.paid_invoices([secret, secret + "~401"], **kwargs)
    exception = traceback.TracebackException.from_exception(raised.value, capture_locals=True)
    ours = [frame for frame in exception.stack if frame.filename.startswith(PACKAGE)]
    assert [frame.name for frame in ours][:1] == ["paid_invoices"]
    assert "pending" in (ours[0].locals or {})
    for frame in ours:
        assert secret not in str(frame.locals), frame.name


def test_no_keys_is_an_empty_frame() -> None:
    result = apibricks.dask.paid_invoices([])
    invoices, failures = dask.compute(result.invoices, result.failures, scheduler="sync")
    assert len(invoices) == len(failures) == 0
    assert list(invoices.columns) == list(apibricks.to_pandas([]).columns)
    assert tuple(failures.columns) == apibricks.dask.FAILURE_COLUMNS


@pytest.mark.parametrize(
    ("keys", "kwargs", "error"),
    [
        ("sk_sandbox_a", {}, TypeError),
        (["sk_sandbox_a"], {"partition_size": 0}, ValueError),
        ([], {"partition_size": True}, TypeError),
        ([], {"concurrency": 0}, ValueError),
        (
            [],
            {"concurrency": 101, "settings": apibricks.ClientSettings(max_connections=100)},
            ValueError,
        ),
        ([], {"settings": {"base_url": "http://127.0.0.1:1"}}, TypeError),
    ],
)
def test_bad_arguments(keys: object, kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        apibricks.dask.paid_invoices(keys, **kwargs)  # type: ignore[arg-type]
