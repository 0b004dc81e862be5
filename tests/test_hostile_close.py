"""``await client.close()`` from a loop other than the session's: closed on the owning
loop when that loop runs in another thread, else a RuntimeError that says how; never a
leaked socket. Run in a child under ``-X dev -W error`` so ResourceWarnings from garbage
collection count too."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, threading
    import apibricks
    from apibricks import sandbox

    def running_elsewhere(url):
        owner = asyncio.new_event_loop()
        thread = threading.Thread(target=owner.run_forever, daemon=True)
        thread.start()
        client = apibricks.AsyncClient(api_key="sk_sandbox_a", base_url=url)
        asyncio.run_coroutine_threadsafe(client.invoices.list_paid(), owner).result(30)
        session = client._transport._session
        asyncio.run(client.close())  # another loop, in this thread
        assert client.is_closed and session.closed, "closed on its own loop"
        owner.call_soon_threadsafe(owner.stop)
        thread.join()
        owner.close()

    def idle(url):
        loop = asyncio.new_event_loop()
        client = apibricks.AsyncClient(api_key="sk_sandbox_b", base_url=url)
        loop.run_until_complete(client.invoices.list_paid())
        try:
            asyncio.run(client.close())
        except RuntimeError as error:
            assert "run_until_complete(client.close())" in str(error), error
        else:
            raise AssertionError("closing an idle loop's client from elsewhere must raise")
        assert not client.is_closed, "still open, so the advice can be followed"
        loop.run_until_complete(client.close())  # the advice
        assert client.is_closed
        loop.close()

    def closed(url):
        client = apibricks.AsyncClient(api_key="sk_sandbox_c", base_url=url)
        async def use():
            await client.invoices.list_paid()
            await client.close()
        asyncio.run(use())
        asyncio.run(client.close())  # already closed: a no-op from anywhere

    with sandbox.serve_in_thread() as url:
        running_elsewhere(url)
        idle(url)
        closed(url)
        gc.collect()
    print("OK")
    """
)


def test_close_from_another_loop_closes_on_the_owner_or_says_how() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK"
    for leak in ("ResourceWarning", "Unclosed", "unclosed", "Exception ignored"):
        assert leak not in result.stderr, result.stderr
