"""`AsyncClient`: the asyncio entry point; every other facade is built on it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Final, TypeVar

import aiohttp

from .._auth import (
    SecretKey,
    hide_key,
    key_hint,
    missing_key_error,
    resolve_api_key,
    secret_key,
)
from .._limits import DEFAULT_MAX_RESPONSE_BYTES
from .._outcome import Outcome, PaidInvoicesReport, Progress
from . import _fan_out
from ._resources import AsyncInvoices
from ._transport import Transport, check_base_url

__all__ = ["BASE_URL_ENV", "DEFAULT_BASE_URL", "AsyncClient"]

DEFAULT_BASE_URL: Final = "https://api-console.apibricks.io"
BASE_URL_ENV: Final = "APIBRICKS_BASE_URL"
DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_MAX_RETRIES: Final = 2

T = TypeVar("T")


class AsyncClient:
    """Client for the APIBricks Console REST API.

    Use it as ``async with AsyncClient() as client:`` (or call `close`). The aiohttp
    session is created lazily inside the running loop. ``with_api_key`` gives cheap views
    for other organizations that share this client's connection pool and settings.

    Args:
        api_key: The organization's API key; defaults to ``$APIBRICKS_API_KEY``. May be
            left unset on a client used only through ``with_api_key`` / ``fan_out``.
        base_url: Defaults to ``$APIBRICKS_BASE_URL``, else production. A path prefix is kept.
        timeout: Seconds allowed per attempt (None: no limit).
        max_retries: Retries after the first attempt for retryable failures.
        default_headers: Extra headers sent with every request.
        max_connections: Size of the connection pool (0: unlimited).
        retry_after_cap: A 429 asking to wait longer than this many seconds is raised
            at once as `RateLimitError` instead of slept on.
        allow_insecure_http: Permit ``http://`` to a host other than loopback.
        session: An aiohttp session to use instead of creating one; it stays yours to close.
        max_response_bytes: Largest response body accepted, counted decompressed; a
            larger one raises `ResponseTooLargeError` (None: no limit).
    """

    invoices: AsyncInvoices

    def __init__(
        self,
        *,
        api_key: str | SecretKey | None = None,
        base_url: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        max_connections: int = 100,
        retry_after_cap: float = 60.0,
        allow_insecure_http: bool = False,
        session: aiohttp.ClientSession | None = None,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        secret = hide_key(api_key)
        del api_key  # crash reporters print every frame's locals: keep only the hint
        url = check_base_url(
            base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
            allow_insecure_http=allow_insecure_http,
        )
        self._transport = Transport(
            base_url=url,
            timeout=timeout,
            max_retries=max_retries,
            headers=default_headers or {},
            max_connections=max_connections,
            retry_after_cap=retry_after_cap,
            session=session,
            max_response_bytes=max_response_bytes,
        )
        self._api_key = resolve_api_key(secret)
        self._is_view = False
        self.invoices = AsyncInvoices(self)

    def with_api_key(self, api_key: str | SecretKey) -> AsyncClient:
        """A view of this client for another organization: same pool, same settings.

        Views are cheap (no session, no I/O) and need no closing; closing the client
        they came from closes their pool.
        """
        secret = hide_key(api_key)
        del api_key  # crash reporters print every frame's locals: keep only the hint
        view = object.__new__(AsyncClient)
        view._transport = self._transport
        view._api_key = secret_key(secret)
        view._is_view = True
        view.invoices = AsyncInvoices(view)
        return view

    async def fan_out(
        self,
        keys: Iterable[str],
        operation: Callable[[AsyncClient], Awaitable[T]],
        *,
        concurrency: int = 32,
        rate_limit: float | None = None,
        adaptive: bool = True,
        on_progress: Callable[[Progress], object] | None = None,
    ) -> AsyncGenerator[Outcome[T], None]:
        """Run ``operation`` for every key, at most ``concurrency`` at once; stream the outcomes.

        ``operation`` gets ``self.with_api_key(key)`` (e.g. ``lambda org:
        org.invoices.list_paid()``); all keys share this client's connection pool, retries
        and timeouts. Exactly one `Outcome` per input position (duplicates included) is
        yielded, in completion order; a failure, an invalid key included, is that key's
        outcome and never stops the others. Keys may be any iterable, pulled only as
        slots free up. A ``concurrency`` above the pool's ``max_connections`` is a
        ``ValueError`` rather than a silently lower bound.

        Args:
            keys: One API key per organization.
            operation: Called with each organization's view; its result is the outcome's
                value. An exception other than `APIBricksError` becomes `OperationError`.
            concurrency: Operations in flight at most (and at least, while keys remain).
            rate_limit: Requests per second at most across all keys, retries included
                (None: no limit). The adaptive pace never passes it.
            adaptive: Find the server's pace: a 429/503 slows the whole fan-out down
                (multiplicatively), successes speed it up again (additively), and a
                ``Retry-After`` pauses every new request until then. False: only
                ``rate_limit`` paces. See docs/rate-limits.md.
            on_progress: Called with a `Progress` before each outcome is yielded.

        Leaving the loop early cancels the requests in flight; use
        ``async with contextlib.aclosing(client.fan_out(...)) as outcomes:`` so that
        happens at once rather than when the generator is garbage-collected.
        """
        outcomes = _fan_out.fan_out(
            self,
            keys,
            operation,
            concurrency=concurrency,
            rate_limit=rate_limit,
            adaptive=adaptive,
            on_progress=on_progress,
        )
        del keys  # the engine holds them, wrapped; crash reporters print this frame's locals
        async with contextlib.aclosing(outcomes):
            async for outcome in outcomes:
                yield outcome

    async def paid_invoices_by_organization(
        self,
        keys: Iterable[str],
        *,
        concurrency: int = 32,
        rate_limit: float | None = None,
        adaptive: bool = True,
        on_progress: Callable[[Progress], object] | None = None,
    ) -> PaidInvoicesReport:
        """All paid invoices of every key's organization, in one report.

        One entry per key in input order (organization, invoices, total, or the error),
        overall totals that count each invoice once, ``.failures`` and ``.ok``. Arguments
        as for `fan_out`.
        """
        report = _fan_out.paid_invoices_by_organization(
            self,
            keys,
            concurrency=concurrency,
            rate_limit=rate_limit,
            adaptive=adaptive,
            on_progress=on_progress,
        )
        del keys  # the engine holds them, wrapped; crash reporters print this frame's locals
        return await report

    @property
    def base_url(self) -> str:
        return str(self._transport.base_url)

    @property
    def timeout(self) -> float | None:
        return self._transport.timeout

    @property
    def max_retries(self) -> int:
        return self._transport.max_retries

    @property
    def is_closed(self) -> bool:
        return self._transport.closed

    async def close(self) -> None:
        """Close the connection pool (a view leaves its parent's pool open)."""
        if not self._is_view:
            await self._transport.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        # Also for a half-built client (its __init__ raised), as crash reporters repr locals.
        transport = getattr(self, "_transport", None)
        if transport is None:
            return f"<{type(self).__name__} (not initialized)>"
        api_key = getattr(self, "_api_key", None)
        key = key_hint(api_key) if api_key else None
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={key!r})"

    async def _get(self, path: str) -> bytes:
        if self._api_key is None:
            raise missing_key_error()
        return await self._transport.get(path, self._api_key)
