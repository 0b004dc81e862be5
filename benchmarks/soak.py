"""Fault soak: a long fan-out against the sandbox with every kind of injected fault.

    python -X dev benchmarks/soak.py [--quick] [--requests N] [--fault-rate 0.05] [--seed 7]

(``nox -s soak`` runs the full soak, ``nox -s soak_quick`` the CI one.) One ``fan_out`` of
10,000 keys (``--quick``: 1,000) against a sandbox served on a thread of this process. About
5% of the keys carry an injected fault, spread evenly over every kind:

* transient (the call must succeed after retries): ``503x1``, ``429r0.01x1``, ``resetx1``,
  ``truncatex1``, ``500x2``, ``disconnectx1``, ``408x1``, ``redirectx1``;
* permanent (the call must fail with the right error type): ``503`` (InternalServerError
  after every retry), ``malformed`` and ``wrongtype`` (DecodeError), an unknown key
  (AuthenticationError), ``404`` (NotFoundError, never retried), ``redirectother``
  (APIStatusError: the key is never sent to another origin), ``slow5`` against a short
  client timeout (APITimeoutError), a key with a line break (APIKeyError, nothing sent).

Checked, and the script exits non-zero on any violation:

* exactly one outcome per input (indices 0..n-1 each exactly once, the key as given);
* every outcome as expected for its key; the server saw exactly the expected attempts;
* RSS after the run within ``--rss-slack`` MB of RSS after an identical warm-up run (the
  sandbox's caches, which live in this process too, are then already full);
* open file descriptors back to the starting count once the client is closed;
* no warning, no "Unclosed ..." and no "Task was destroyed": warnings are errors, asyncio's
  and aiohttp's loggers, ``sys.unraisablehook`` and the process's stderr (fd 2) are captured
  and scanned. ``-X dev`` also turns on asyncio's debug mode.

Exponential backoff is shrunk (``apibricks._retry.BACKOFF_BASE = 0.01``) so the transient
faults cost milliseconds; ``Retry-After`` waits are the sandbox's own (``r0.01``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import logging
import os
import random
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

warnings.simplefilter("error")  # before the imports below: nothing may warn, not even on import

import apibricks  # noqa: E402
import apibricks._retry  # noqa: E402
from apibricks import sandbox  # noqa: E402

apibricks._retry.BACKOFF_BASE = 0.01

PREFIX = "sk_sandbox_"
CLIENT_TIMEOUT = 1.0  # seconds per attempt: ``slow5`` always exceeds it, loopback never does
CONCURRENCY = 64
INVOICES_PER_ORG = 2
SERVER_LATENCY = 0.01  # seconds per request: keeps `CONCURRENCY` requests really in flight
SYMPTOMS = ("Unclosed", "Task was destroyed", "never awaited", "Traceback", "Exception ignored")


@dataclass(frozen=True)
class Fault:
    """One kind of injected fault: the key suffix and what the caller must see."""

    name: str
    suffix: str  # appended to the key ("" for the special keys below)
    error: type[apibricks.APIBricksError] | None  # None: the call succeeds
    server_attempts: int  # requests the sandbox must have seen for the key
    key: Callable[[str], str] | None = None  # builds the whole key from the org name

    @property
    def transient(self) -> bool:
        return self.error is None


# max_retries=2 (the default): at most three attempts per call.
FAULTS: tuple[Fault, ...] = (
    Fault("503 once", "~503x1", None, 2),
    Fault("429 once (Retry-After 0.01)", "~429r0.01x1", None, 2),
    Fault("reset once", "~resetx1", None, 2),
    Fault("truncate once", "~truncatex1", None, 2),
    Fault("500 twice", "~500x2", None, 3),
    # aiohttp resends a GET once by itself when the connection drops before any response.
    Fault("disconnect once", "~disconnectx1", None, 2),
    Fault("408 once", "~408x1", None, 2),
    Fault("same-origin redirect once", "~redirectx1", None, 2),
    Fault("503 always", "~503", apibricks.InternalServerError, 3),
    Fault("malformed JSON", "~malformed", apibricks.DecodeError, 1),
    Fault("wrong type", "~wrongtype", apibricks.DecodeError, 1),
    Fault("unknown key (401)", "", apibricks.AuthenticationError, 1, lambda org: f"sk_{org}"),
    Fault("404", "~404", apibricks.NotFoundError, 1),
    Fault("redirect to other origin", "~redirectother", apibricks.APIStatusError, 1),
    Fault("slow 5 s (timeout 1 s)", "~slow5", apibricks.APITimeoutError, 3),
    Fault("key with a line break", "", apibricks.APIKeyError, 0, lambda org: f"sk_{org}\n"),
)


@dataclass(frozen=True)
class Plan:
    keys: list[str]
    faults: list[Fault | None]  # per index; None: no fault


def make_plan(n: int, fault_rate: float, seed: int) -> Plan:
    """``n`` keys, one organization each; ``fault_rate`` of them faulty, every kind alike."""
    rng = random.Random(seed)
    n_faulty = max(len(FAULTS), round(n * fault_rate))
    faulty = rng.sample(range(n), n_faulty)
    faults: list[Fault | None] = [None] * n
    for position, index in enumerate(faulty):
        faults[index] = FAULTS[position % len(FAULTS)]
    keys = []
    for index, fault in enumerate(faults):
        org = f"soak{index:05d}"
        if fault is not None and fault.key is not None:
            keys.append(fault.key(org))
        else:
            keys.append(PREFIX + org + (fault.suffix if fault else ""))
    return Plan(keys, faults)


# --- resources ------------------------------------------------------------------------------


def rss_bytes() -> int:
    try:
        import psutil
    except ImportError:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no psutil and no /proc/self/status: cannot measure RSS") from None
    return int(psutil.Process().memory_info().rss)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settled_rss() -> int:
    for _ in range(3):
        gc.collect()
    return rss_bytes()


async def wait_for_fds(target: int, timeout: float = 10.0) -> int:
    """The fd count, once it is back to ``target`` (the server thread closes its side)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    count = open_fds()
    while count > target and loop.time() < deadline:
        await asyncio.sleep(0.01)
        count = open_fds()
    return count


# --- capture of everything that could signal a leak -----------------------------------------


@dataclass
class Capture:
    """Warnings, unraisable exceptions, asyncio/aiohttp log records and fd-2 output."""

    records: list[str] = field(default_factory=list)
    unraisable: list[str] = field(default_factory=list)
    slow_callbacks: int = 0
    stderr_text: str = ""

    def __post_init__(self) -> None:
        self._file = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 - closed by stop()
        self._saved_fd = os.dup(2)
        self._handler = _ListHandler(self)
        self._old_hook = sys.unraisablehook

    def start(self) -> None:
        sys.stderr.flush()
        os.dup2(self._file.fileno(), 2)
        sys.unraisablehook = self._hook
        for name in ("asyncio", "aiohttp", "apibricks"):
            logging.getLogger(name).addHandler(self._handler)

    def stop(self) -> None:
        for name in ("asyncio", "aiohttp", "apibricks"):
            logging.getLogger(name).removeHandler(self._handler)
        sys.unraisablehook = self._old_hook
        sys.stderr.flush()
        os.dup2(self._saved_fd, 2)
        os.close(self._saved_fd)
        self._file.seek(0)
        self.stderr_text = self._file.read().decode(errors="replace")
        self._file.close()

    def _hook(self, unraisable: Any) -> None:
        self.unraisable.append(f"{unraisable.exc_type.__name__}: {unraisable.exc_value}")

    def problems(self) -> list[str]:
        found = [f"unraisable: {text}" for text in self.unraisable]
        found += [f"log: {text}" for text in self.records]
        found += [
            f"stderr: {line}"
            for line in self.stderr_text.splitlines()
            if any(symptom in line for symptom in SYMPTOMS) or "Warning" in line
        ]
        return found


class _ListHandler(logging.Handler):
    def __init__(self, capture: Capture) -> None:
        super().__init__(logging.WARNING)
        self.capture = capture

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        # asyncio's debug mode (-X dev) reports callbacks slower than 100 ms: timing, not a leak
        if record.name == "asyncio" and message.startswith("Executing "):
            self.capture.slow_callbacks += 1
            return
        self.capture.records.append(f"{record.name} {record.levelname}: {message[:300]}")


# --- the run --------------------------------------------------------------------------------


@dataclass
class RunResult:
    outcomes: list[apibricks.Outcome[list[apibricks.Invoice]]]
    seconds: float
    fds_after_close: int


async def run_once(url: str, plan: Plan, fd_baseline: int) -> RunResult:
    started = time.perf_counter()
    outcomes: list[apibricks.Outcome[list[apibricks.Invoice]]] = []
    async with apibricks.AsyncClient(
        base_url=url, timeout=CLIENT_TIMEOUT, max_connections=CONCURRENCY
    ) as client:
        async for outcome in client.fan_out(
            plan.keys, lambda org: org.invoices.list_paid(), concurrency=CONCURRENCY
        ):
            outcomes.append(outcome)
    seconds = time.perf_counter() - started
    return RunResult(outcomes, seconds, await wait_for_fds(fd_baseline))


def check_outcomes(
    plan: Plan, result: RunResult, server: sandbox.Sandbox, violations: list[str]
) -> dict[str, collections.Counter[str]]:
    """Append every violation; return per fault kind the outcome classes seen."""
    n = len(plan.keys)
    seen = collections.Counter(outcome.index for outcome in result.outcomes)
    lost = [index for index in range(n) if seen[index] == 0]
    doubled = [index for index, count in seen.items() if count > 1]
    stray = [index for index in seen if not 0 <= index < n]
    if lost:
        violations.append(f"{len(lost)} inputs without an outcome, e.g. {lost[:5]}")
    if doubled:
        violations.append(f"{len(doubled)} inputs with several outcomes, e.g. {doubled[:5]}")
    if stray:
        violations.append(f"outcomes with out-of-range indices: {stray[:5]}")
    by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for outcome in result.outcomes:
        if not 0 <= outcome.index < n:
            continue
        key, fault = plan.keys[outcome.index], plan.faults[outcome.index]
        kind = fault.name if fault else "no fault"
        by_kind[kind]["ok" if outcome.ok else type(outcome.error).__name__] += 1
        problem = _check_one(outcome, key, fault, server)
        if problem and len(violations) < 50:
            violations.append(f"[{outcome.index}] {kind}: {problem}")
        elif problem:
            violations[-1] = "... (more violations)"
    return by_kind


def _check_one(
    outcome: apibricks.Outcome[list[apibricks.Invoice]],
    key: str,
    fault: Fault | None,
    server: sandbox.Sandbox,
) -> str | None:
    if outcome.key != key:
        return "outcome.key is not the key given at that index"
    if fault is None or fault.transient:
        if not outcome.ok:
            return f"expected success, got {outcome.error!r}"
        invoices = outcome.value or []
        if len(invoices) != INVOICES_PER_ORG or not all(
            isinstance(invoice, apibricks.Invoice) for invoice in invoices
        ):
            return f"expected {INVOICES_PER_ORG} invoices, got {invoices!r:.200}"
    else:
        if outcome.ok or outcome.value is not None:
            return f"expected {fault.error.__name__}, got a value"  # type: ignore[union-attr]
        assert fault.error is not None
        if not isinstance(outcome.error, fault.error):
            return f"expected {fault.error.__name__}, got {outcome.error!r}"
    expected_attempts = fault.server_attempts if fault else 1
    attempts = server.requests_for(key)
    if attempts != expected_attempts:
        return f"the server saw {attempts} requests, expected {expected_attempts}"
    return None


async def soak(args: argparse.Namespace, capture: Capture) -> tuple[list[str], dict[str, Any]]:
    violations: list[str] = []
    plan = make_plan(args.requests, args.fault_rate, args.seed)
    server = sandbox.Sandbox(invoices_per_org=INVOICES_PER_ORG, latency=SERVER_LATENCY)
    figures: dict[str, Any] = {}
    async with server.serve() as url:
        fd_start = open_fds()
        # Warm-up: the identical run, so every cache (the sandbox's payloads, the decoder's
        # ids, aiohttp's internals) is as full as it gets before RSS is measured.
        warmup = await run_once(url, plan, fd_start)
        check_outcomes(plan, warmup, server, violations)
        del warmup
        server.reset_stats()  # transient faults start over: the main run is identical
        rss_warm = settled_rss()

        main = await run_once(url, plan, fd_start)
        by_kind = check_outcomes(plan, main, server, violations)
        counts = collections.Counter(outcome.index for outcome in main.outcomes)
        lost = sum(1 for index in range(args.requests) if counts[index] != 1)
        total_requests, peak = server.total_requests, server.peak_in_flight
        server.reset_stats()
        n_outcomes, seconds, fds_after = len(main.outcomes), main.seconds, main.fds_after_close
        del main
        rss_after = settled_rss()

    figures.update(
        plan=plan,
        by_kind=by_kind,
        total_requests=total_requests,
        outcomes=n_outcomes,
        lost=lost,
        seconds=seconds,
        rss_warm=rss_warm,
        rss_after=rss_after,
        fd_start=fd_start,
        fd_after=fds_after,
        peak=peak,
    )
    rss_delta = (rss_after - rss_warm) / 2**20
    if rss_delta > args.rss_slack:
        violations.append(
            f"RSS grew by {rss_delta:.1f} MB between the warm-up and the main run "
            f"(allowed: {args.rss_slack} MB)"
        )
    if fds_after != fd_start:
        violations.append(f"open file descriptors: {fd_start} before, {fds_after} after close")
    pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    if pending:
        violations.append(f"{len(pending)} tasks still pending: {pending[:3]}")
    return violations, figures


def print_report(args: argparse.Namespace, figures: dict[str, Any], capture: Capture) -> None:
    plan: Plan = figures["plan"]
    by_kind: dict[str, collections.Counter[str]] = figures["by_kind"]
    injected = collections.Counter(f.name for f in plan.faults if f is not None)
    width = max(len(f.name) for f in FAULTS) + 2
    print(f"## Fault soak ({'quick' if args.quick else 'full'}), seed {args.seed}\n")
    print(f"| {'fault kind':<{width}} | expected | injected | outcomes |")
    print(f"|{'-' * (width + 2)}|----------|----------|----------|")
    rows = [("no fault", "ok", len(plan.keys) - sum(injected.values()))]
    rows += [
        (f.name, "ok" if f.transient else f.error.__name__, injected[f.name])  # type: ignore[union-attr]
        for f in FAULTS
    ]
    for name, expected, count in rows:
        seen = ", ".join(f"{cls} {n}" for cls, n in sorted(by_kind.get(name, {}).items()))
        print(f"| {name:<{width}} | {expected:<8} | {count:>8} | {seen} |")
    print()
    n = len(plan.keys)
    rate = figures["outcomes"] / figures["seconds"] if figures["seconds"] else 0.0
    summary = [
        ("inputs (fan-out keys)", f"{n:,}"),
        ("faults injected", f"{sum(injected.values()):,} ({sum(injected.values()) / n:.1%})"),
        ("HTTP requests the sandbox served", f"{figures['total_requests']:,}"),
        ("outcomes", f"{figures['outcomes']:,}"),
        ("inputs without exactly one outcome", f"{figures['lost']:,}"),
        ("wall time (main run)", f"{figures['seconds']:.2f} s ({rate:,.0f} outcomes/s)"),
        ("peak requests in flight", f"{figures['peak']}"),
        (
            "RSS after warm-up -> after run",
            f"{figures['rss_warm'] / 2**20:.1f} MB -> {figures['rss_after'] / 2**20:.1f} MB "
            f"(delta {(figures['rss_after'] - figures['rss_warm']) / 2**20:+.1f} MB)",
        ),
        (
            "open fds at start -> after close",
            f"{figures['fd_start']} -> {figures['fd_after']} "
            f"(delta {figures['fd_after'] - figures['fd_start']:+d})",
        ),
        ("warnings / unraisable / error logs", f"{len(capture.problems())}"),
        ("asyncio slow-callback notes (debug mode)", f"{capture.slow_callbacks}"),
        ("python -X dev (asyncio debug)", f"{sys.flags.dev_mode}"),
    ]
    print("| figure | value |\n|---|---|")
    for name, value in summary:
        print(f"| {name} | {value} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 requests (CI)")
    parser.add_argument("--requests", type=int, help="fan-out size (default 10,000; quick 1,000)")
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rss-slack", type=float, default=None, help="MB (default 5; quick 4)")
    args = parser.parse_args(argv)
    if args.requests is None:
        args.requests = 1_000 if args.quick else 10_000
    if args.rss_slack is None:
        args.rss_slack = 4.0 if args.quick else 5.0
    if not sys.flags.dev_mode:
        print("note: run with `python -X dev` for asyncio debug mode and all warnings")

    capture = Capture()
    capture.start()
    try:
        violations, figures = asyncio.run(soak(args, capture))
        for _ in range(3):
            gc.collect()  # finalizers of anything leaked run now, inside the capture
    finally:
        capture.stop()
    violations += capture.problems()
    print_report(args, figures, capture)
    if capture.stderr_text.strip():
        print("\n### stderr during the soak\n")
        print(capture.stderr_text[-4000:])
    if violations:
        print(f"\nFAIL: {len(violations)} violation(s)")
        for violation in violations:
            print(f"  - {violation}")
        return 1
    print("\nOK: every input got exactly one outcome, as expected; no leak, no warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
