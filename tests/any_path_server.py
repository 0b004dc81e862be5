"""A loopback test server whose one handler answers every ``GET`` path (the hostile tests)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def serve_any_path(handle: Handler) -> AsyncIterator[TestServer]:
    """``handle`` behind every path on 127.0.0.1 (``server.make_url("")`` is its root)."""
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    async with TestServer(app, host="127.0.0.1") as server:
        yield server
