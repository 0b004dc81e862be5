"""The sync client where Python's own errors used to leak through (issue 24 item 6): first
used inside an ``atexit`` handler it works, as `AsyncClient` under ``asyncio.run`` does
there; called from a signal handler that interrupted one of its calls it raises a typed
`SyncCallError` that says so. Each case runs in a child process (``-X dev -W error``, so a
leaked socket or thread at exit counts as a failure)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap

import pytest

# Each block runs inside an atexit handler, with a sandbox serving at `url`.
AT_EXIT = {
    "one call, closed": """
        with apibricks.Client(api_key="sk_sandbox_a", base_url=url) as client:
            print(len(client.invoices.list_paid()))
    """,
    "several calls and a view, never closed": """
        client = apibricks.Client(api_key="sk_sandbox_a", base_url=url)
        print(len(client.invoices.list_paid()))
        print(len(client.with_api_key("sk_sandbox_b").invoices.list_paid()))
        print(len(client.paid_invoices_by_organization(["sk_sandbox_c", "sk_sandbox_d"]).entries))
    """,
    "a fan-out iterator (needs the loop thread)": """
        with apibricks.Client(base_url=url) as client:
            try:
                for outcome in client.fan_out(["sk_sandbox_a", "sk_sandbox_b"], LIST_PAID):
                    print(len(outcome.value))
            except apibricks.SyncCallError as error:  # where Python starts no thread at exit
                assert "shutting down" in str(error), error
                print("3\\n3")
    """,
}

AT_EXIT_SCRIPT = """
import atexit, sys
from apibricks import sandbox

server = sandbox.Sandbox(invoices_per_org=3)
serving = server.serve_in_thread()
url = serving.__enter__()
LIST_PAID = lambda org: org.invoices.list_paid()

def at_exit():
    import apibricks  # the package's first use is here too
{body}

atexit.register(at_exit)
"""


@pytest.mark.parametrize("case", sorted(AT_EXIT))
def test_a_sync_client_first_used_in_an_atexit_handler_works(case: str) -> None:
    body = textwrap.indent(textwrap.dedent(AT_EXIT[case]), "    ")
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", AT_EXIT_SCRIPT.format(body=body)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Error" not in result.stderr and "Warning" not in result.stderr, result.stderr
    counts = result.stdout.split()
    assert counts and set(counts) <= {"3", "2"}, result.stdout  # 3 invoices; 2 entries


SIGNAL_SCRIPT = """
import random, signal, sys
import apibricks
from apibricks import sandbox

raised = []

def handler(signum, frame):
    try:
        client.invoices.list_paid()  # the same client, maybe mid-call on this thread
    except Exception as error:
        raised.append(error)
    else:
        raised.append(None)  # the signal came between two calls: nothing to refuse

def arm(event):  # a request hook: the call is surely in progress from here on
    signal.setitimer(signal.ITIMER_REAL, {armed})

with sandbox.Sandbox(invoices_per_org=3).serve_in_thread() as url:
    with apibricks.Client(api_key="sk_sandbox_a", base_url=url) as client:
        signal.signal(signal.SIGALRM, handler)
        hooks = {{"request": [arm]}} if {armed} else {{}}
        slow = client.with_api_key("sk_sandbox_a~slow{slow}").with_options(event_hooks=hooks)
        for delay in {delays}:
            if delay:
                signal.setitimer(signal.ITIMER_REAL, delay)
            assert len(slow.invoices.list_paid()) == 3  # the interrupted call goes on
            signal.setitimer(signal.ITIMER_REAL, 0)
        assert len(client.invoices.list_paid()) == 3  # and the client stays usable
refused = [error for error in raised if error is not None]
for error in refused:
    assert isinstance(error, apibricks.SyncCallError), repr(error)
    assert isinstance(error, RuntimeError)  # as before it had its own class
    assert "signal handler" in str(error), error
    assert "sk_sandbox" not in str(error)
print(len(refused))
"""

RANDOM = random.Random(24)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer (Unix)")
@pytest.mark.parametrize(
    ("delays", "armed", "slow"),
    [
        # Armed by a request hook, fired while the loop waits for the (slow) answer.
        ([0], 0.05, 0.5),
        ([0, 0, 0], 0.02, 0.5),
        # Anywhere in short calls (the first one making the client's loop): while a call is
        # set up, driven, wound down, or between calls; never a hang, any refusal typed.
        ([round(RANDOM.uniform(0.0001, 0.004), 5) for _ in range(60)], 0, 0.002),
    ],
    ids=["once", "three times", "anywhere"],
)
def test_a_signal_handler_calling_the_client_mid_call_gets_a_typed_error(
    delays: list[float], armed: float, slow: float
) -> None:
    """The handler's call is refused at once with `SyncCallError` naming the signal
    handler; the call it interrupted completes, and the client stays usable."""
    script = SIGNAL_SCRIPT.format(delays=delays, armed=armed, slow=slow)
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    refused = int(result.stdout.strip())
    assert refused == len(delays) if armed else refused <= len(delays), refused
    assert "Warning" not in result.stderr and "Exception ignored" not in result.stderr
