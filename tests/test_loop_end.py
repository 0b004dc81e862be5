"""A client whose loop ended before it was closed (issue 25 item 5): its connections are
released as the loop ends, so nothing is reported unclosed at exit, and the client stays
usable on a later loop. Each case runs in a child under ``-X dev -W error`` so that
ResourceWarnings from garbage collection and interpreter exit count too."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap

import pytest

# How the first loop is run and ended: each ends with shutdown_asyncgens(), as every runner does.
RUNNERS = {
    "asyncio.run": "asyncio.run(main)",
    "manual loop": (
        "loop = asyncio.new_event_loop()\n"
        "try:\n"
        "    loop.run_until_complete(main)\n"
        "    left = asyncio.all_tasks(loop)  # what asyncio.run would cancel\n"
        "    for task in left:\n"
        "        task.cancel()\n"
        "    if left:\n"
        "        loop.run_until_complete(asyncio.wait(left))\n"
        "    loop.run_until_complete(loop.shutdown_asyncgens())\n"
        "finally:\n"
        "    loop.close()"
    ),
}
if sys.version_info >= (3, 11):
    RUNNERS["asyncio.Runner"] = "with asyncio.Runner() as runner:\n    runner.run(main)"

# What the client is doing when that loop ends.
LEFT = {
    "idle": "await client.invoices.list_paid()",
    "a request in flight": (
        "await client.invoices.list_paid()\n"
        "slow = client.with_api_key('sk_sandbox_s~slow5')\n"
        "pending.append(asyncio.create_task(slow.invoices.list_paid()))\n"
        "await asyncio.sleep(0.05)"
    ),
    "a fan-out left open": (
        "outcomes = client.fan_out(KEYS, lambda org: org.invoices.list_paid(), concurrency=2)\n"
        "await outcomes.__anext__()\n"
        "pending.append(outcomes)"
    ),
    "several connections": (
        "await asyncio.gather(*(client.with_api_key(k).invoices.list_paid() for k in KEYS))"
    ),
}

# What the program does afterwards, on a new loop (or nothing: exit with the client open).
AFTER = {
    "nothing": "",
    "close from another loop": "asyncio.run(client.close())\nassert client.is_closed",
    "use again, then close": (
        "async def again():\n"
        "    async with client:\n"
        "        assert len(await client.invoices.list_paid()) == 3\n"
        "asyncio.run(again())"
    ),
}

CASE = """
client = apibricks.AsyncClient(api_key="sk_sandbox_a", base_url=url)
pending = []

async def first_loop():
    {left}

main = first_loop()
{runner}
assert not client.is_closed, "ending the loop releases the pool, it does not close the client"
{after}
del client, pending
gc.collect()
"""

PROLOGUE = """
import asyncio, gc
import apibricks
from apibricks import sandbox

KEYS = ["sk_sandbox_a", "sk_sandbox_b", "sk_sandbox_c", "sk_sandbox_d"]
with sandbox.Sandbox(invoices_per_org=3).serve_in_thread() as url:
"""


def render(runner: str, left: str, after: str) -> str:
    left_code = textwrap.indent(LEFT[left], "    ").lstrip()
    return CASE.format(left=left_code, runner=RUNNERS[runner], after=AFTER[after])


def run_child(cases: list[str]) -> subprocess.CompletedProcess[str]:
    script = PROLOGUE + "".join(textwrap.indent(case, "    ") for case in cases) + "print('OK')\n"
    return subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
    )


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK", result.stdout
    for leak in ("ResourceWarning", "Unclosed", "unclosed", "Exception ignored", "Task was"):
        assert leak not in result.stderr, result.stderr


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_a_loop_that_ends_releases_the_clients_connections(runner: str) -> None:
    """Every state the client may be in as the loop ends, then every way to go on."""
    cases = [render(runner, left, after) for left, after in itertools.product(LEFT, AFTER)]
    assert_clean(run_child(cases))


def test_a_loop_closed_without_ending_its_generators_still_says_how() -> None:
    """``loop.close()`` alone gives the client no moment to release its connections: closing
    it afterwards raises a RuntimeError naming the ways to end a loop that would have."""
    script = PROLOGUE + textwrap.indent(
        textwrap.dedent(
            """
            client = apibricks.AsyncClient(api_key="sk_sandbox_a", base_url=url)
            loop = asyncio.new_event_loop()
            loop.run_until_complete(client.invoices.list_paid())
            loop.close()
            try:
                asyncio.run(client.close())
            except RuntimeError as error:
                assert "shutdown_asyncgens" in str(error) and "asyncio.run" in str(error), error
                print("OK")
            """
        ),
        "    ",
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "OK", result.stderr
