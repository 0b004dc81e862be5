"""Cancelling an in-flight call leaves nothing behind: no task, no open session, no warning."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import apibricks
from apibricks import sandbox


async def _wait_until_seen(server: sandbox.Sandbox, key: str) -> None:
    """Synchronise on the server having received the request (a condition, not a guess)."""
    while server.requests_for(key) == 0:  # noqa: ASYNC110 - polling server stats
        await asyncio.sleep(0.005)


async def test_cancelled_list_paid_leaves_the_client_usable(
    sandbox_server: sandbox.Sandbox,
) -> None:
    url = sandbox_server.url
    slow = "sk_sandbox_cancel~slow30"
    async with apibricks.AsyncClient(base_url=url) as client:
        task = asyncio.create_task(client.with_api_key(slow).invoices.list_paid())
        await _wait_until_seen(sandbox_server, slow)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=5)
        assert task in done and task.cancelled()
        assert await client.with_api_key("sk_sandbox_after").invoices.list_paid()


SCRIPT = textwrap.dedent(
    """
    import asyncio, gc
    import apibricks
    from apibricks import sandbox

    async def main():
        server = sandbox.Sandbox()
        async with server.serve() as url:
            async def cancel_once_seen(key, coroutine):
                task = asyncio.create_task(coroutine)
                while server.requests_for(key) == 0:
                    await asyncio.sleep(0.005)
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass

            # 1. cancel mid-request, then close
            client = apibricks.AsyncClient(api_key="sk_sandbox_a~slow30", base_url=url)
            await cancel_once_seen("sk_sandbox_a~slow30", client.invoices.list_paid())
            await client.close()
            # 2. cancel the task that owns an `async with` block
            async def owner():
                async with apibricks.AsyncClient(api_key="sk_sandbox_b~slow30", base_url=url) as c:
                    await c.invoices.list_paid()
            await cancel_once_seen("sk_sandbox_b~slow30", owner())
            # 3. wait_for timeout around a call
            async with apibricks.AsyncClient(api_key="sk_sandbox_c~slow30", base_url=url) as c:
                try:
                    await asyncio.wait_for(c.invoices.list_paid(), 0.2)
                except asyncio.TimeoutError:
                    pass
        gc.collect()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not pending, pending

    asyncio.run(main())
    gc.collect()
    print("clean")
    """
)


def test_cancellation_paths_emit_no_warning_under_dev_mode() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"
    for symptom in ("Unclosed", "Task was destroyed", "never awaited", "Traceback"):
        assert symptom not in result.stderr, result.stderr
