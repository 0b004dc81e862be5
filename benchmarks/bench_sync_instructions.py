"""What the sync facade adds per call, counted rather than timed: CPU instructions
(callgrind) and the caller's sleeps (context switches), from a script and from inside a
running event loop (a notebook cell), against awaiting `AsyncClient`.

    python benchmarks/bench_sync_instructions.py [--calls 200] [CHECKOUT ...]

Wall-clock figures of the sync facade move by a factor of two with the machine's load;
these do not. Instructions: each contender runs in a fresh interpreter under
``valgrind --tool=callgrind`` (``PYTHONHASHSEED=0``, so start-up is identical), once with
a warm-up only and once with ``--calls`` more calls; the difference per call is what one
call costs this process in user space, all its threads counted (the sandbox answers from
its own process). Sleeps: voluntary context switches of the whole process per call
(``getrusage``), in a plain run: each is a thread put to sleep and woken again, which
costs kernel time and, on an idle VM, waking a halted vCPU. Each CHECKOUT (a directory
holding ``apibricks/``; default: this one) is measured in turn, so a before/after comes
from one run. Without valgrind only the sleeps are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

from _callgrind import instructions_of
from _sandbox_process import sandbox_process

KEY = "sk_sandbox_bench~n1"
WARM_UP = 100
KINDS = {
    "async": "`await AsyncClient.invoices.list_paid()`",
    "script": "`Client.invoices.list_paid()` from a script",
    "in-loop": "`Client.invoices.list_paid()` inside a running loop",
}


def calls(kind: str, url: str, count: int) -> None:
    """``count`` calls of one kind, after the warm-up (in the measured interpreter)."""
    import apibricks

    if kind == "async":

        async def awaits() -> None:
            async with apibricks.AsyncClient(api_key=KEY, base_url=url) as client:
                for _ in range(WARM_UP + count):
                    await client.invoices.list_paid()

        asyncio.run(awaits())
        return
    with apibricks.Client(api_key=KEY, base_url=url) as client:
        if kind == "script":
            for _ in range(WARM_UP + count):
                client.invoices.list_paid()
            return

        async def inside_a_loop() -> None:
            for _ in range(WARM_UP + count):
                client.invoices.list_paid()

        asyncio.run(inside_a_loop())


def instructions(kind: str, url: str, count: int, checkout: Path) -> int:
    env = {**os.environ, "PYTHONPATH": str(checkout), "PYTHONHASHSEED": "0"}
    return instructions_of([__file__, "--child", kind, url, str(count)], env=env)


def sleeps(kind: str, url: str, count: int, checkout: Path) -> float:
    """Voluntary context switches of the process per call, in a child without valgrind."""
    command = [sys.executable, __file__, "--child", kind, url, str(count), "--sleeps"]
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    run = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return float(run.stdout.split()[-1])


def child(argv: list[str]) -> None:
    kind, url, count = argv[0], argv[1], int(argv[2])
    if "--sleeps" not in argv:
        calls(kind, url, count)
        return
    before = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
    calls(kind, url, 0)
    middle = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
    calls(kind, url, count)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
    # Both runs pay the warm-up and the client's start and end: the difference is the calls.
    print(((after - middle) - (middle - before)) / count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="counted calls (default 200)")
    parser.add_argument("checkouts", nargs="*", type=Path, help="default: this checkout")
    args = parser.parse_args()
    checkouts = args.checkouts or [Path(__file__).resolve().parent.parent]
    counted = shutil.which("valgrind") is not None
    print(
        f"Per call, {args.calls} calls after {WARM_UP} warm-up; 1 invoice per response, "
        "sandbox in another process."
    )
    print()
    print("| checkout | call | instructions | added by the facade | sleeps |")
    print("|---|---|---:|---:|---:|")
    with sandbox_process(invoices=1) as url:
        for checkout in checkouts:
            per_call = {}
            for kind in KINDS:
                if counted:
                    warm = instructions(kind, url, 0, checkout)
                    full = instructions(kind, url, args.calls, checkout)
                    per_call[kind] = (full - warm) / args.calls
                slept = sleeps(kind, url, args.calls, checkout)
                count = f"{per_call[kind]:,.0f}" if counted else "—"
                extra = (
                    f"{per_call[kind] - per_call['async']:+,.0f}"
                    if counted and kind != "async"
                    else ""
                )
                print(f"| {checkout.name} | {KINDS[kind]} | {count} | {extra} | {slept:.2f} |")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        sys.exit(0)
    sys.exit(main())
