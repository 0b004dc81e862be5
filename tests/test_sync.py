"""The generated sync facade: same surface as `AsyncClient`, on a private event loop.

Real HTTP against the sandbox on loopback, served from its own thread (a sync call blocks
the calling thread, so the server must not share it). Scenarios shared with the async
client (decoding, errors, retries, headers) run through the ``facade`` fixture in the
other test modules; this module covers what only the sync facade has: who runs the loop
(the caller's thread, or the loop thread), its lifecycle, threads, forks, interruption,
and the generator that writes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import inspect
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import pytest

import apibricks
from apibricks import sandbox

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "scripts" / "generate_sync.py"
KEY = "sk_sandbox_sync"
LIST_PAID = lambda org: org.invoices.list_paid()  # noqa: E731
needs_signals = pytest.mark.skipif(
    not hasattr(signal, "pthread_kill"), reason="needs POSIX signals"
)


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("apibricks-loop")]


def pending_tasks(client: apibricks.Client) -> list[asyncio.Task[Any]]:
    """Tasks left on the client's loop (besides the one asking)."""

    async def others() -> list[asyncio.Task[Any]]:
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    return client._loop.run(others())


def threads_of_requests() -> tuple[list[threading.Thread], dict[str, Any]]:
    """A list that fills with the thread each request is sent from, and the hooks to pass."""
    threads: list[threading.Thread] = []
    return threads, {"request": [lambda event: threads.append(threading.current_thread())]}


def run_script(script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` under ``-X dev -W error``: every warning, ResourceWarning included, shows."""
    return subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


# asyncio's debug mode (on under -X dev) reports a callback that held the loop over 0.1 s:
# a busy machine (CI runs the suite on parallel workers), not a leak.
SLOW_CALLBACK = re.compile(r"^Executing <.*> took \d+\.\d+ seconds\n", re.MULTILINE)


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    stderr = SLOW_CALLBACK.sub("", result.stderr)
    for noise in ("Unclosed", "Task was destroyed", "never awaited", "Warning", "Traceback"):
        assert noise not in stderr, stderr
    assert stderr == ""
    assert result.returncode == 0


# -- plain use -------------------------------------------------------------------------------


def test_plain_script_use(url: str) -> None:
    with apibricks.Client(api_key=KEY, base_url=url) as client:
        invoices = client.invoices.list_paid()
        assert len(invoices) == 2
        assert all(type(i) is apibricks.Invoice for i in invoices)
        assert repr(client).startswith("Client(")
        assert client.base_url == url
        assert not client.is_closed
    assert client.is_closed
    assert not loop_threads()


def test_a_plain_script_leaves_no_warning() -> None:
    result = run_script(
        """
        import apibricks
        from apibricks import sandbox

        with sandbox.serve_in_thread() as url:
            with apibricks.Client(api_key="sk_sandbox_script", base_url=url) as client:
                print(len(client.invoices.list_paid()))
        """
    )
    assert_clean(result)
    assert result.stdout.split() == [str(sandbox.DEFAULT_INVOICES_PER_ORG)]


def test_same_errors_as_the_async_client(url: str) -> None:
    with apibricks.Client(base_url=url, max_retries=0) as client:
        with pytest.raises(apibricks.NotFoundError) as caught:
            client.with_api_key("sk_sandbox_gone~404").invoices.list_paid()
        assert type(caught.value) is apibricks.NotFoundError
        assert caught.value.status_code == 404
        with pytest.raises(apibricks.APIKeyError):
            client.invoices.list_paid()  # no key given and none in the environment


def test_a_closed_client_refuses_calls(url: str) -> None:
    client = apibricks.Client(api_key=KEY, base_url=url)
    client.close()
    client.close()  # idempotent
    assert client.is_closed
    with pytest.raises(apibricks.APIBricksError, match="closed"):
        client.invoices.list_paid()
    assert not loop_threads()


def test_views_share_the_loop_and_keep_it_alive(url: str) -> None:
    client = apibricks.Client(base_url=url)
    view = client.with_api_key("sk_sandbox_view")
    assert isinstance(view, apibricks.Client)
    assert "sk_sandbox_view" not in repr(view)
    invoices = view.invoices
    del client, view
    gc.collect()
    assert len(invoices.list_paid()) == 2  # the resource keeps its client, and the loop, alive
    view_loop = invoices._loop
    view_loop.close()


def test_views_do_not_close_the_pool(url: str) -> None:
    with apibricks.Client(base_url=url) as client:
        view = client.with_api_key("sk_sandbox_view")
        with view:
            assert view.invoices.list_paid()
        assert client.with_api_key("sk_sandbox_view").invoices.list_paid()
        loop = client._loop._loop
        assert loop is not None and not loop.is_closed() and not client.is_closed


# -- who runs the loop -----------------------------------------------------------------------


def test_an_uncontended_call_runs_on_the_callers_own_thread(url: str) -> None:
    """No hand-off to another thread: the script's thread runs the client's loop itself."""
    threads, hooks = threads_of_requests()
    with apibricks.Client(api_key=KEY, base_url=url, event_hooks=hooks) as client:
        assert len(client.invoices.list_paid()) == 2
        assert len(client.invoices.list_paid()) == 2
        assert threads == [threading.current_thread()] * 2
        assert not loop_threads()  # never needed, never started
        assert asyncio._get_running_loop() is None  # the loop let go of this thread


async def test_inside_a_running_loop_the_call_runs_on_the_loop_thread(url: str) -> None:
    threads, hooks = threads_of_requests()
    with apibricks.Client(api_key=KEY, base_url=url, event_hooks=hooks) as client:
        assert len(client.invoices.list_paid()) == 2
        assert [t.name for t in threads] == ["apibricks-loop"]
    assert not loop_threads()


def test_calling_the_client_on_its_own_loop_raises(url: str) -> None:
    """A hook (it runs on the loop) calling the blocking client would wait for itself."""
    hooks: dict[str, Any] = {"request": [lambda event: client.invoices.list_paid()]}
    with apibricks.Client(api_key=KEY, base_url=url, event_hooks=hooks) as client:
        with pytest.raises(apibricks.SyncCallError, match="an event hook"):
            client.invoices.list_paid()  # driven by this thread
        (outcome,) = client.fan_out([KEY], LIST_PAID)  # on the loop thread
        assert isinstance(outcome.error, apibricks.SyncCallError)
        assert "wait for itself" in str(outcome.error)
        assert not pending_tasks(client)


def test_a_call_arriving_while_another_thread_runs_the_loop_is_served_at_once(
    server: sandbox.Sandbox,
) -> None:
    """Not after the driving caller's (30 s) call ends; and close() cancels that call."""
    threads, hooks = threads_of_requests()
    client = apibricks.Client(base_url=server.test_url, event_hooks=hooks, max_retries=0)  # type: ignore[attr-defined]
    stuck = "sk_sandbox_stuck~slow30"
    errors: list[BaseException] = []

    def drive() -> None:
        try:
            client.with_api_key(stuck).invoices.list_paid()
        except BaseException as error:
            errors.append(error)

    driver = threading.Thread(target=drive)
    driver.start()
    server.wait_until(lambda: server.requests_for(stuck) > 0)
    started = time.monotonic()
    assert len(client.with_api_key("sk_sandbox_quick").invoices.list_paid()) == 2
    assert time.monotonic() - started < 5
    assert threads == [driver, driver]  # both sent by the thread running the loop
    assert driver.is_alive()
    client.close()
    driver.join(10)
    assert not driver.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], apibricks.APIBricksError), errors
    assert not loop_threads()


def test_a_driver_whose_call_ends_first_hands_the_loop_on(server: sandbox.Sandbox) -> None:
    """Calls still pending when the driving caller returns finish on the loop thread; the
    next caller that can run the loop itself takes it back."""
    responded: list[threading.Thread] = []
    hooks = {"response": [lambda event: responded.append(threading.current_thread())]}
    with apibricks.Client(base_url=server.test_url, event_hooks=hooks) as client:  # type: ignore[attr-defined]
        first, second = "sk_sandbox_first~latency300", "sk_sandbox_second~latency600"
        ended: list[str] = []

        def call(key: str) -> None:
            assert len(client.with_api_key(key).invoices.list_paid()) == 2
            ended.append(key)

        driver = threading.Thread(target=call, args=(first,))
        driver.start()
        server.wait_until(lambda: server.requests_for(first) > 0)
        other = threading.Thread(target=call, args=(second,))
        other.start()
        other.join(10)
        driver.join(10)
        assert ended == [first, second]
        assert responded[0] is driver
        assert [t.name for t in responded[1:]] == ["apibricks-loop"]
        responded.clear()  # the loop thread still has the loop; this thread takes it back:
        assert len(client.with_api_key("sk_sandbox_again").invoices.list_paid()) == 2
        assert responded == [threading.current_thread()]


def test_a_paused_fan_out_keeps_fetching_in_the_background(url: str) -> None:
    """Between two items (the caller busy elsewhere) the other keys' requests go on."""
    responses = threading.Semaphore(0)
    hooks = {"response": [lambda event: responses.release()]}
    keys = ["sk_sandbox_quick", "sk_sandbox_slow~latency300"]
    with (
        apibricks.Client(base_url=url, event_hooks=hooks) as client,
        contextlib.closing(client.fan_out(keys, LIST_PAID, concurrency=2)) as outcomes,
    ):
        assert next(outcomes).index == 0
        assert responses.acquire(timeout=10)  # the quick one's
        assert responses.acquire(timeout=10), "nothing ran the loop while paused"
        assert next(outcomes).index == 1


# -- fan_out ---------------------------------------------------------------------------------


def test_fan_out_takes_the_async_lambda_and_yields_every_outcome(url: str) -> None:
    seen: list[object] = []

    def operation(org: apibricks.AsyncClient) -> Any:
        seen.append(org)
        return org.invoices.list_paid()

    keys = ["sk_sandbox_a", "sk_sandbox_b~404", "sk_sandbox_c", "bad\nkey"]
    with apibricks.Client(base_url=url, max_retries=0) as client:
        outcomes = list(client.fan_out(keys, operation, concurrency=4))
    assert sorted(o.index for o in outcomes) == [0, 1, 2, 3]
    by_index = {o.index: o for o in outcomes}
    assert by_index[0].ok and len(by_index[0].value) == 2
    assert isinstance(by_index[1].error, apibricks.NotFoundError)
    assert isinstance(by_index[3].error, apibricks.APIKeyError)
    assert all(type(org) is apibricks.AsyncClient for org in seen)


def test_breaking_out_of_fan_out_cancels_in_flight_work(server: sandbox.Sandbox) -> None:
    keys = ["sk_sandbox_quick"] + [f"sk_sandbox_stuck{i}~slow30" for i in range(20)]
    with apibricks.Client(base_url=server.test_url) as client:  # type: ignore[attr-defined]
        started = time.monotonic()
        for outcome in client.fan_out(keys, LIST_PAID, concurrency=8):
            assert outcome.index == 0
            server.wait_until(lambda: server.in_flight >= 7)
            break
        assert not pending_tasks(client)
        assert time.monotonic() - started < 5
        assert client.with_api_key("sk_sandbox_after").invoices.list_paid()


def test_fan_out_report(url: str) -> None:
    with apibricks.Client(base_url=url) as client:
        report = client.paid_invoices_by_organization(["sk_sandbox_a", "sk_sandbox_b"])
    assert report.ok


# -- where it runs -----------------------------------------------------------------------------


async def test_works_inside_a_running_event_loop(url: str) -> None:
    """Sync code called from ``async def`` (a notebook cell): no "loop already running"."""
    with apibricks.Client(api_key=KEY, base_url=url) as client:
        assert len(client.invoices.list_paid()) == 2
        outcomes = list(client.fan_out(["sk_sandbox_a", "sk_sandbox_b"], LIST_PAID))
        assert all(o.ok for o in outcomes)


def test_one_client_from_twenty_threads(url: str) -> None:
    server_url = url
    with apibricks.Client(base_url=server_url) as client:

        def call(i: int) -> int:
            return len(client.with_api_key(f"sk_sandbox_t{i}~latency50").invoices.list_paid())

        with ThreadPoolExecutor(20) as pool:
            assert list(pool.map(call, range(100))) == [2] * 100
        assert len(loop_threads()) <= 1


def test_twenty_threads_are_served_concurrently(server: sandbox.Sandbox) -> None:
    with apibricks.Client(base_url=server.test_url) as client:  # type: ignore[attr-defined]
        barrier = threading.Barrier(20)

        def call(i: int) -> None:
            barrier.wait()
            client.with_api_key(f"sk_sandbox_c{i}~latency200").invoices.list_paid()

        with ThreadPoolExecutor(20) as pool:
            list(pool.map(call, range(20)))
    assert server.peak_in_flight >= 15  # not one after another


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # 3.12+: forking with threads
def test_after_fork_the_child_gets_its_own_loop_and_session(url: str) -> None:
    with apibricks.Client(api_key=KEY, base_url=url) as client:
        assert client.invoices.list_paid()
        assert list(client.fan_out(["sk_sandbox_f"], LIST_PAID))  # starts the loop thread
        parent_loop, parent_thread = client._loop._loop, client._loop._thread
        assert parent_thread is not None
        pid = os.fork()
        if pid == 0:  # the child: never return into pytest
            status = 3
            try:
                fresh = len(client.invoices.list_paid()) == 2
                fresh = fresh and client._loop._loop not in (None, parent_loop)
                fresh = fresh and len(list(client.fan_out(["sk_sandbox_f"], LIST_PAID))) == 1
                fresh = fresh and client._loop._thread not in (None, parent_thread)
                client.close()
                status = 0 if fresh and not loop_threads() else 2
            except BaseException as error:
                os.write(2, f"child failed: {error!r}\n".encode())
            finally:
                os._exit(status)
        _, wait_status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(wait_status) == 0
        # The child closed only what it created: the parent's loop and pool work on.
        assert client._loop._loop is parent_loop and client._loop._thread is parent_thread
        assert len(client.invoices.list_paid()) == 2
        assert len(list(client.fan_out(["sk_sandbox_f"], LIST_PAID))) == 1


# -- interruption ------------------------------------------------------------------------------


class HangingServer:
    """Reads one HTTP request, never answers, and records when the client hangs up."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.request_seen = threading.Event()
        self.hung_up = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            connection, _ = self.listener.accept()
            with connection:
                data = b""
                while b"\r\n\r\n" not in data and (chunk := connection.recv(4096)):
                    data += chunk
                self.request_seen.set()
                while connection.recv(4096):
                    pass
                self.hung_up.set()

    def close(self) -> None:
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def hanging() -> Iterator[HangingServer]:
    server = HangingServer()
    yield server
    server.close()


class CallerTimeout(Exception):
    """What a caller's own timeout (a signal handler) raises in the middle of a call."""


def _raise_caller_timeout(signum: int, frame: FrameType | None) -> None:
    raise CallerTimeout


@needs_signals
@pytest.mark.parametrize(
    ("signum", "handler", "expected"),
    [
        (signal.SIGINT, signal.default_int_handler, KeyboardInterrupt),
        (signal.SIGUSR1, _raise_caller_timeout, CallerTimeout),
    ],
    ids=["ctrl-c", "caller-timeout"],
)
def test_an_interrupted_call_is_cancelled_on_the_loop(
    hanging: HangingServer,
    signum: int,
    handler: Callable[[int, FrameType | None], Any],
    expected: type[BaseException],
) -> None:
    previous = signal.signal(signum, handler)
    threads, hooks = threads_of_requests()
    try:
        with apibricks.Client(api_key=KEY, base_url=hanging.url, event_hooks=hooks) as client:

            def interrupt() -> None:
                if hanging.request_seen.wait(10):
                    signal.pthread_kill(threading.main_thread().ident or 0, signum)

            threading.Thread(target=interrupt, daemon=True).start()
            started = time.monotonic()
            with pytest.raises(expected):
                client.invoices.list_paid()
            assert time.monotonic() - started < 5
            assert hanging.hung_up.wait(5), "the connection was left open"
            assert threads == [threading.main_thread()]  # interrupted while driving the loop
            assert not pending_tasks(client)  # the loop runs the next call
    finally:
        signal.signal(signum, previous)


def test_threads_calling_in_a_loop_while_the_client_closes_all_end_cleanly(
    server: sandbox.Sandbox,
) -> None:
    """Plain calls, fan-outs and a caller inside a running loop, all at once, so the loop
    passes between the callers' threads and the loop thread; then close() in the middle."""
    client = apibricks.Client(base_url=server.test_url, max_retries=0)  # type: ignore[attr-defined]
    ended: list[BaseException] = []

    def caller(i: int) -> None:
        try:
            while True:
                if i % 3 == 0:
                    outcomes = list(client.fan_out([f"sk_sandbox_f{i}", "sk_sandbox_g"], LIST_PAID))
                    assert all(o.ok or "closed" in str(o.error) for o in outcomes)
                else:
                    assert len(client.with_api_key(f"sk_sandbox_w{i}").invoices.list_paid()) == 2
        except BaseException as error:
            ended.append(error)

    def caller_in_a_loop() -> None:
        async def calls() -> None:
            caller(1)

        asyncio.run(calls())

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(5)]
    threads.append(threading.Thread(target=caller_in_a_loop))
    for thread in threads:
        thread.start()
    server.wait_until(lambda: server.total_requests >= 300, timeout=30)
    client.close()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    assert len(ended) == len(threads)
    assert all(isinstance(e, apibricks.APIBricksError) and "closed" in str(e) for e in ended), ended
    assert not loop_threads()


@needs_signals
def test_ctrl_c_while_driving_cancels_the_call_rather_than_raising_inside_the_loop(
    url: str,
) -> None:
    """As ``asyncio.Runner`` does: the loop's work on this thread is never cut in the middle
    (here a hook, elsewhere asyncio's own bookkeeping); the call is cancelled, then
    KeyboardInterrupt follows."""
    finished: list[str] = []

    def ctrl_c_in_a_hook(event: apibricks.HookEvent) -> None:
        if not finished:
            signal.raise_signal(signal.SIGINT)  # its handler runs right here, on return
        finished.append(event.event)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        hooks = {"request": [ctrl_c_in_a_hook]}
        with apibricks.Client(api_key=KEY, base_url=url, event_hooks=hooks) as client:
            with pytest.raises(KeyboardInterrupt):
                client.invoices.list_paid()
            assert finished == ["request"]  # the hook ran to its end
            assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
            assert not pending_tasks(client)
            assert len(client.invoices.list_paid()) == 2
    finally:
        signal.signal(signal.SIGINT, previous)


def test_closing_under_a_call_in_flight_fails_that_call_cleanly(hanging: HangingServer) -> None:
    client = apibricks.Client(api_key=KEY, base_url=hanging.url, max_retries=0)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.invoices.list_paid()
        except BaseException as error:
            errors.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    assert hanging.request_seen.wait(10)
    client.close()
    caller.join(10)
    assert not caller.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], apibricks.APIBricksError), errors
    assert not loop_threads()


def test_ctrl_c_in_a_script_leaves_no_warning() -> None:
    result = run_script(
        """
        import signal, threading, time
        import apibricks
        from apibricks import sandbox

        server = sandbox.Sandbox()
        slow = "sk_sandbox_k~slow30"
        with server.serve_in_thread() as url:
            with apibricks.Client(api_key=slow, base_url=url) as client:
                def interrupt():
                    server.wait_until(lambda: server.requests_for(slow) > 0)
                    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
                threading.Thread(target=interrupt).start()
                try:
                    client.invoices.list_paid()
                except KeyboardInterrupt:
                    print("interrupted")
                keys = ["sk_sandbox_fast"] + [f"sk_sandbox_s{i}~slow30" for i in range(5)]
                for outcome in client.fan_out(keys, lambda org: org.invoices.list_paid()):
                    break
                print(len(client.with_api_key("sk_sandbox_ok").invoices.list_paid()))
        """
    )
    assert_clean(result)
    assert result.stdout.split() == ["interrupted", str(sandbox.DEFAULT_INVOICES_PER_ORG)]


# -- cleanup -----------------------------------------------------------------------------------


@pytest.mark.parametrize("loop_thread", [False, True], ids=["driven-only", "with-loop-thread"])
def test_a_dropped_client_is_cleaned_up(url: str, loop_thread: bool) -> None:
    client = apibricks.Client(api_key=KEY, base_url=url)
    client.invoices.list_paid()
    if loop_thread:
        assert list(client.fan_out([KEY], LIST_PAID))
        assert len(loop_threads()) == 1
    loop = client._loop._loop
    assert loop is not None
    del client
    gc.collect()
    assert loop.is_closed()
    assert not loop_threads()


def test_dropped_and_unclosed_clients_leave_no_warning() -> None:
    result = run_script(
        """
        import gc, threading
        import apibricks
        from apibricks import sandbox

        def loop_threads():
            return [t for t in threading.enumerate() if t.name.startswith("apibricks-loop")]

        with sandbox.serve_in_thread() as url:
            client = apibricks.Client(api_key="sk_sandbox_drop", base_url=url)
            client.invoices.list_paid()
            del client
            gc.collect()
            assert not loop_threads(), loop_threads()
            apibricks.Client(api_key="sk_sandbox_unused")  # never used: nothing to release
            gc.collect()
            # Left open at exit, with a fan-out suspended and a request in flight.
            leftover = apibricks.Client(base_url=url)
            outcomes = leftover.fan_out(
                ["sk_sandbox_fast", "sk_sandbox_slow~slow30"],
                lambda org: org.invoices.list_paid(),
            )
            print(next(outcomes).index)
        print("exiting")
        """
    )
    assert_clean(result)
    assert result.stdout.split() == ["0", "exiting"]


def test_closed_from_inside_a_running_loop_after_plain_calls(url: str) -> None:
    """This thread ran the loop for its calls, but cannot while its own loop runs: the
    loop thread, started for it, winds the client's loop down."""
    client = apibricks.Client(api_key=KEY, base_url=url)
    assert len(client.invoices.list_paid()) == 2
    loop = client._loop._loop
    assert loop is not None and not loop_threads()

    async def close() -> None:
        client.close()

    asyncio.run(close())
    assert client.is_closed and loop.is_closed()
    assert not loop_threads()


def test_a_client_collected_on_its_own_loop_closes_there_without_warnings() -> None:
    result = run_script(
        """
        import gc
        import apibricks
        from apibricks import sandbox

        with sandbox.serve_in_thread() as url:
            holder = [apibricks.Client(base_url=url)]
            runner = holder[0]._loop

            async def operation(org):
                holder.clear()
                gc.collect()  # the client's last reference goes, on its own loop thread
                return await org.invoices.list_paid()

            outcomes = holder[0].fan_out(["sk_sandbox_a"], operation)
            try:
                print([o.ok for o in outcomes])
            except apibricks.APIBricksError as error:
                print("closed" if "closed" in str(error) else repr(error))
            runner._thread.join(10)
            print(runner.closed, runner._thread.is_alive(), runner._loop is None)
        """
    )
    assert_clean(result)
    assert result.stdout.split() in (
        ["closed", "True", "False", "True"],
        ["[False]", "True", "False", "True"],
    )


@pytest.fixture
def url_of_a_child_process() -> Iterator[str]:
    """A sandbox (2 invoices per organization) in a process of its own: its descriptors
    are not ours, so what a test sees open is the client's alone."""
    command = [sys.executable, "-m", "apibricks.sandbox", "--port", "0", "--invoices", "2"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            listening = re.search(r"listening on (http://\S+)", process.stdout.readline())
            assert listening, "the sandbox did not start"
            yield listening[1]
        finally:
            process.kill()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_open_close_cycles_leak_no_thread_and_no_fd(url_of_a_child_process: str) -> None:
    def cycle() -> None:
        with apibricks.Client(api_key=KEY, base_url=url_of_a_child_process) as client:
            client.invoices.list_paid()

    def open_files() -> set[tuple[str, str]]:
        """Each descriptor and what it points at: a new socket differs even on a reused number."""
        found = set()
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # the listing's own descriptor, gone by now
                found.add((fd, os.readlink(f"/proc/self/fd/{fd}")))
        return found

    cycle()  # warm-up: imports, lazily created module state
    # What the cycles added, not how many: an earlier test's leftovers (this worker ran
    # others before) may close meanwhile, which is no leak of ours.
    threads, files = set(threading.enumerate()), open_files()
    for _ in range(100):
        cycle()
    # Closing a client closes its connections, loop and thread before it returns.
    assert set(threading.enumerate()) - threads == set()
    assert open_files() - files == set()


# -- the generated code ------------------------------------------------------------------------


@pytest.fixture
def generator(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """scripts/generate_sync.py, imported."""
    spec = importlib.util.spec_from_file_location("generate_sync", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "generate_sync", module)  # dataclasses look it up
    spec.loader.exec_module(module)
    return module


def test_the_generated_files_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_check_fails_on_a_stale_file(
    generator: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(generator, "SYNC_DIR", tmp_path)
    assert generator.main(["--check"]) == 1  # missing
    assert generator.main([]) == 0
    assert generator.main(["--check"]) == 0
    generated = tmp_path / "_client.py"
    generated.write_text(generated.read_text().replace("return self", "return  self"))
    capsys.readouterr()
    assert generator.main(["--check"]) == 1
    error = capsys.readouterr().err
    assert "_client.py" in error and "generate_sync.py" in error


def test_generation_is_deterministic(generator: ModuleType) -> None:
    assert generator.generate() == generator.generate()


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


@pytest.mark.parametrize(
    ("async_class", "sync_class"),
    [
        (apibricks.AsyncClient, apibricks.Client),
        (apibricks.AsyncInvoices, apibricks.Invoices),
        (apibricks.AsyncInvoicesWithRawResponse, apibricks.InvoicesWithRawResponse),
    ],
)
def test_the_sync_surface_mirrors_the_async_one(async_class: type, sync_class: type) -> None:
    assert _public(sync_class) == _public(async_class)
    for name in _public(async_class):
        async_member = inspect.getattr_static(async_class, name)
        sync_member = inspect.getattr_static(sync_class, name)
        if isinstance(async_member, (property, types.MemberDescriptorType)):
            assert type(sync_member) is type(async_member), name
            continue
        if isinstance(async_member, classmethod):
            assert isinstance(sync_member, classmethod), name
            async_member, sync_member = async_member.__func__, sync_member.__func__
        async_params = list(inspect.signature(async_member).parameters.values())
        sync_params = list(inspect.signature(sync_member).parameters.values())
        assert sync_params == async_params, name  # names, kinds, defaults, annotations
        assert not inspect.iscoroutinefunction(sync_member), name
        assert not inspect.isasyncgenfunction(sync_member), name


def test_the_client_constructor_and_context_manager_mirror_the_async_ones() -> None:
    sync_init = inspect.signature(apibricks.Client.__init__)
    assert sync_init == inspect.signature(apibricks.AsyncClient.__init__)
    aexit = inspect.signature(apibricks.AsyncClient.__aexit__).parameters
    assert inspect.signature(apibricks.Client.__exit__).parameters == aexit
    assert apibricks.Client.__enter__ and apibricks.Client.__exit__


def test_mypy_sees_precise_types(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "uses_sync.py"
    snippet.write_text(
        textwrap.dedent(
            """
            import apibricks

            client = apibricks.Client()
            reveal_type(client.invoices.list_paid())
            reveal_type(client.fan_out(["k"], lambda org: org.invoices.list_paid()))
            reveal_type(client.with_api_key("k"))
            """
        )
    )
    stdout, _, _ = api.run(["--strict", "--no-error-summary", str(snippet)])
    revealed = [
        re.sub(r"\b(builtins|typing|collections\.abc)\.", "", line.split("Revealed type is ")[1])
        for line in stdout.splitlines()
        if "Revealed type is" in line
    ]
    assert revealed == [
        '"list[apibricks._models.Invoice]"',
        '"Iterator[apibricks._outcome.Outcome[list[apibricks._models.Invoice]]]"',
        '"apibricks._sync._client.Client"',
    ], stdout
