"""Paid invoices of many organizations: one local fan-out against a two-worker Dask cluster.

    python benchmarks/bench_dask.py [--quick] [--keys 20000] [--latency 0.02] [--invoices 3]

The sandbox runs in its own process with a fixed latency per answer. Every contender
fetches the same keys and ends with the same pandas figures (rows, sum of cents), so
each pays for decoding and for building the DataFrame:

* ``local fan_out, c=N``: one `AsyncClient.paid_invoices_by_organization` at
  concurrency N, then `apibricks.to_pandas` of all invoices, in this process.
* ``dask 2 workers``: `apibricks.dask.paid_invoices` on a `LocalCluster` of two worker
  processes (one thread each, started before the clock), partitions of
  ``--partition-size`` keys, each one fan-out at ``--concurrency``; the row count and the
  sum are computed on the workers, so only two numbers come back.

The local fan-out runs at the per-partition concurrency and at the cluster's total (two
partitions in flight), so the comparison is not just "more requests at once". A small
untimed warm-up runs first (imports on the workers, pools). Rounds alternate the
contenders; the best of ``--repeat`` is reported with the rate in keys/s.
On one small machine the sandbox, the driver and the workers share the cores: read the
figures as a lower bound of what separate machines give.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone

from _sandbox_process import sandbox_process

import apibricks

WORKERS = 2


def run_local(url: str, keys: list[str], concurrency: int) -> tuple[int, int]:
    async def fetch() -> apibricks.PaidInvoicesReport:
        async with apibricks.AsyncClient(base_url=url, max_connections=concurrency) as client:
            return await client.paid_invoices_by_organization(keys, concurrency=concurrency)

    report = asyncio.run(fetch())
    assert report.ok, report.failures[:3]
    frame = apibricks.to_pandas(invoice for entry in report for invoice in entry.invoices)
    return len(frame), int(frame["amount_usd_cents"].sum())


def run_dask(keys: list[str], partition_size: int, concurrency: int) -> tuple[int, int]:
    import dask

    import apibricks.dask

    result = apibricks.dask.paid_invoices(
        keys, partition_size=partition_size, concurrency=concurrency
    )
    rows, cents, failures = dask.compute(
        result.invoices.shape[0], result.invoices["amount_usd_cents"].sum(), result.failures
    )
    assert len(failures) == 0, failures.head()
    return int(rows), int(cents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 keys, one round")
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per answer")
    parser.add_argument("--invoices", type=int, default=3, help="invoices per organization")
    parser.add_argument("--partition-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32, help="per fan-out")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if args.quick:
        args.keys, args.repeat = 2000, 1

    import distributed

    keys = [f"sk_sandbox_bench{i:07d}" for i in range(args.keys)]
    c = args.concurrency
    with (
        sandbox_process(args.invoices, args.latency) as url,
        distributed.LocalCluster(
            n_workers=WORKERS, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster),
    ):
        os.environ["APIBRICKS_BASE_URL"] = url  # settings=None: the workers get this URL
        contenders: dict[str, Callable[[], tuple[int, int]]] = {
            f"local fan_out, c={c}": lambda: run_local(url, keys, c),
            f"local fan_out, c={WORKERS * c}": lambda: run_local(url, keys, WORKERS * c),
            f"dask {WORKERS} workers, c={c} each": lambda: run_dask(keys, args.partition_size, c),
        }
        warm_up = keys[: 2 * c]  # imports on the workers, pools, caches: not timed
        run_local(url, warm_up, c)
        run_dask(warm_up, c, c)
        best: dict[str, float] = {}
        answers: set[tuple[int, int]] = set()
        for _ in range(args.repeat):
            for name, run in contenders.items():
                start = time.perf_counter()
                answers.add(run())
                elapsed = time.perf_counter() - start
                best[name] = min(best.get(name, elapsed), elapsed)
        assert len(answers) == 1, f"contenders disagree: {answers}"
        ((rows, _cents),) = answers

    ideal = args.keys * args.latency / c
    print(
        f"#### {args.keys:,} organizations, {args.invoices} invoices each, "
        f"{args.latency * 1000:.0f} ms server latency\n\n"
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the end), "
        f"sandbox in its own process; best of {args.repeat} alternating rounds; "
        f"{rows:,} rows each.\n\n"
        f"`python benchmarks/bench_dask.py {' '.join(sys.argv[1:])}`\n\n"
        f"| contender | wall | keys/s | vs local c={c} |\n|---|---:|---:|---:|\n"
        f"| ideal at c={c} (keys * latency / concurrency) | {ideal:.1f} s "
        f"| {args.keys / ideal:,.0f} | |"
    )
    baseline = best[f"local fan_out, c={c}"]
    for name, seconds in best.items():
        print(
            f"| {name} | {seconds:.1f} s | {args.keys / seconds:,.0f} | {baseline / seconds:.2f}x |"
        )


if __name__ == "__main__":
    main()
