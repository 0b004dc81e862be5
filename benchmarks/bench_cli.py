"""The command line across many organizations: wall time and peak memory by key count.

    python benchmarks/bench_cli.py [--quick] [--sizes 1000 10000] [--format jsonl]

Each size runs ``apibricks invoices paid --keys-file KEYS -o OUT --quiet`` in a fresh
process against the sandbox in its own process (one invoice per organization), and
reports the CLI's peak RSS (``wait4``) and its rate. Memory is bounded when the peak does
not grow with the key count: the ratio of the largest size's peak to the smallest's is
the figure to watch (target <= 1.25). The output is checked: one record per organization.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _sandbox_process import sandbox_process

TARGET_RATIO = 1.25


def run_cli(url: str, keys: int, format: str, workdir: Path) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of one CLI run over ``keys`` organizations."""
    keys_file = workdir / f"keys-{keys}.txt"
    keys_file.write_text("".join(f"sk_sandbox_bench{n}\n" for n in range(keys)))
    output = workdir / f"out-{keys}.{format}"
    command = [sys.executable, "-m", "apibricks", "invoices", "paid", "--keys-file"]
    command += [str(keys_file), "-o", str(output), "--quiet", "--concurrency", "64"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("APIBRICKS_")}
    env["APIBRICKS_BASE_URL"] = url
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"the CLI exited {process.returncode} for {keys} keys")
    if format == "jsonl":
        with output.open("rb") as lines:
            assert sum(1 for _ in lines) == keys, "one invoice per organization expected"
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    return elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--format", default="jsonl", choices=["jsonl", "json", "csv"])
    args = parser.parse_args()
    sizes = args.sizes or ([300, 3000] if args.quick else [1000, 10_000, 100_000])
    rows = []
    with sandbox_process(invoices=1) as url, tempfile.TemporaryDirectory() as tmp:
        for keys in sizes:
            elapsed, peak = run_cli(url, keys, args.format, Path(tmp))
            rows.append((keys, elapsed, peak))
    print(f"| keys | wall (s) | organizations/s | CLI peak RSS (MiB) |  ({args.format})")
    print("|---:|---:|---:|---:|")
    for keys, elapsed, peak in rows:
        print(f"| {keys:,} | {elapsed:.1f} | {keys / elapsed:,.0f} | {peak:.0f} |")
    ratio = rows[-1][2] / rows[0][2]
    verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
    print(
        f"\nPeak RSS at {rows[-1][0]:,} keys / at {rows[0][0]:,} keys: {ratio:.2f}x "
        f"(target <= {TARGET_RATIO}x: {verdict})"
    )


if __name__ == "__main__":
    main()
