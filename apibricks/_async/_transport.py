"""The one place that talks HTTP: session lifecycle, one attempt, retries, logging.

A `Transport` belongs to a root `AsyncClient` and is shared by every view made with
``with_api_key``, so a fan-out over thousands of keys uses one connection pool.
Every failure leaves here as an `APIBricksError`; the aiohttp/asyncio original is
kept as ``__cause__``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import sys
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final, TypeVar

import aiohttp
import backoff
from yarl import URL

from .._auth import SecretKey
from .._exceptions import (
    APIBricksError,
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    RedirectError,
)
from .._limits import DEFAULT_MAX_RESPONSE_BYTES, ERROR_BODY_LIMIT, read_body
from .._problem import request_id_from, status_error
from .._retry import gives_up, retry_waits
from .._sanitize import clean, redact_headers
from .._urls import check_base_url, safe_url
from .._version import __version__
from ._pacing import Lane, current_lane

__all__ = ["USER_AGENT", "Transport", "check_base_url"]

T = TypeVar("T")

logger: Final = logging.getLogger("apibricks")

USER_AGENT: Final = (
    f"apibricks/{__version__} aiohttp/{aiohttp.__version__} python/{platform.python_version()}"
)
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS: Final = 5
_FOREIGN_CLOSE_TIMEOUT: Final = 30.0

# Sessions abandoned in a forked child: they belong to the parent's (dead here) loop and
# must be neither used nor closed; holding them keeps their finalizers from warning.
_ABANDONED_AFTER_FORK: list[aiohttp.ClientSession] = []


class _Attempt:
    """Mutable per-call state threaded through backoff's retries (and read by the log)."""

    __slots__ = ("key", "number", "request_id", "start", "status", "url")

    def __init__(self, url: URL, key: SecretKey) -> None:
        self.start = self.url = url
        self.key = key
        self.number = 0
        self.status: int | None = None
        self.request_id: str | None = None

    @property
    def secret(self) -> SecretKey:
        """The request's key, to hide wherever the server echoes it."""
        return self.key


class Transport:
    """Owns (or borrows) the aiohttp session and runs requests with retries."""

    def __init__(
        self,
        *,
        base_url: URL,
        timeout: float | None,
        max_retries: int,
        headers: Mapping[str, str],
        max_connections: int,
        retry_after_cap: float,
        session: aiohttp.ClientSession | None,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0.")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds, or None.")
        if max_connections < 0:
            raise ValueError("max_connections must be >= 0 (0 means unlimited).")
        if max_response_bytes is not None and (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1
        ):
            raise ConfigurationError(
                f"max_response_bytes must be a positive int (bytes) or None for no limit, "
                f"got {max_response_bytes!r}."
            )
        self.max_response_bytes = max_response_bytes
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            **headers,
        }
        self.max_connections = max_connections
        self.retry_after_cap = retry_after_cap
        self._client_timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._pid = os.getpid()
        self._closed = False
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._cancelled_by_close: set[asyncio.Task[Any]] = set()
        self._send = backoff.on_exception(
            retry_waits,
            APIBricksError,
            max_tries=lambda: self.max_retries + 1,
            giveup=lambda error: gives_up(error, self.retry_after_cap),
            on_backoff=_log_backoff,
            jitter=None,
            logger=None,
        )(self._attempt)

    @property
    def closed(self) -> bool:
        return self._closed

    def session(self) -> aiohttp.ClientSession:
        """The session for the running loop, created on first use (never at import or init)."""
        if self._closed:
            raise APIBricksError("This client is closed; create a new one.")
        if self._pid != os.getpid():
            self._forget_session_after_fork()
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0)
            session = self._session = aiohttp.ClientSession(connector=connector)
            self._session_loop = loop
        elif self._session_loop is None:
            self._session_loop = loop  # injected: bound to whichever loop the caller uses
        elif self._session_loop is not loop:
            raise APIBricksError(
                "This client's session belongs to another event loop; "
                "create one client per event loop."
            )
        return session

    def _forget_session_after_fork(self) -> None:
        if self._session is not None and self._owns_session:
            _ABANDONED_AFTER_FORK.append(self._session)
            self._session = None
        self._session_loop = None
        self._pid = os.getpid()

    async def close(self) -> None:
        """Close the session we created; an injected one is the caller's to close.

        From a loop other than the session's, the work is done on the session's own loop
        when that loop is running (in another thread); otherwise a `RuntimeError` says
        how to close it, and the client stays open so that advice can be followed.
        """
        if self._closed:
            return
        owner = self._session_loop
        if (
            owner is not None
            and self._session is not None
            and self._pid == os.getpid()
            and owner is not asyncio.get_running_loop()
        ):
            await _run_on(owner, self._close_here)
        else:
            await self._close_here()

    async def _close_here(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Calls still in flight end now, as APIConnectionError (see `get`), rather than
        # hanging on a dead connection or surfacing aiohttp's RuntimeError.
        for task in self._in_flight:
            task.cancel()
            self._cancelled_by_close.add(task)
        session, self._session = self._session, None
        if session is not None and self._owns_session and self._pid == os.getpid():
            await session.close()

    async def get(self, path: str, key: SecretKey) -> bytes:
        """GET ``path`` under the base URL with retries; the 2xx body, or a typed error.

        The key stays wrapped until the request is built (see `_exchange`), so no frame
        here holds it as text for a crash reporter to record.
        """
        url = self.base_url.with_path(self.base_url.path.rstrip("/") + path, encoded=False)
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            body: bytes = await self._send(_Attempt(url, key))
        except asyncio.CancelledError:
            if not self._was_cancelled_only_by_close(task):
                raise
            raise APIConnectionError(
                "The client was closed while this request was in flight.", retryable=False
            ) from None
        finally:
            self._in_flight.discard(task)
        return body

    def _was_cancelled_only_by_close(self, task: asyncio.Task[Any]) -> bool:
        if task not in self._cancelled_by_close:
            return False
        self._cancelled_by_close.discard(task)
        if sys.version_info >= (3, 11):
            task.uncancel()
            return task.cancelling() == 0  # else the caller cancelled too: honour that
        return True

    async def _attempt(self, attempt: _Attempt) -> bytes:
        attempt.number += 1
        session = self.session()
        lane = current_lane.get()  # set inside a fan-out: every attempt keeps its pace
        slot = await lane.acquire() if lane is not None else 0.0
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            # One deadline over the whole attempt: redirects, body read and inflation.
            return await _within(self.timeout, self._exchange(session, attempt, lane, slot))
        except APIBricksError:
            raise
        except asyncio.TimeoutError as exc:
            raise APITimeoutError(
                f"Request timed out after {self.timeout} s (attempt {attempt.number})."
            ) from exc
        except RecursionError:
            raise  # a bug, not a network failure: never retried as one
        except (aiohttp.ClientError, OSError, RuntimeError) as exc:
            # RuntimeError: aiohttp's "Session is closed" / "Connection closed." when the
            # pool is closed under a request (ours, or an injected session by its owner).
            raise _connection_error(exc, attempt.secret) from exc
        finally:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "GET %s -> %s in %.1f ms (attempt %d, request id %s)",
                    safe_url(attempt.url),
                    attempt.status if attempt.status is not None else "no response",
                    (loop.time() - started) * 1000,
                    attempt.number,
                    attempt.request_id or "-",
                )

    async def _exchange(
        self, session: aiohttp.ClientSession, attempt: _Attempt, lane: Lane | None, queued: float
    ) -> bytes:
        """One attempt: follow same-origin redirects by hand, read the body under the cap."""
        url = attempt.start
        followed: set[tuple[URL, URL]] = set()
        for _ in range(_MAX_REDIRECTS + 1):
            attempt.url, attempt.status, attempt.request_id = url, None, None
            async with session.get(
                url,
                headers={**self.headers, "Authorization": attempt.key.reveal()},
                timeout=self._client_timeout,
                allow_redirects=False,
                auto_decompress=False,
            ) as response:
                attempt.status = status = response.status
                if lane is not None:  # a fan-out's pacer learns every status
                    lane.observe(queued, status, response.headers)
                attempt.request_id = request_id_from(response.headers, secret=attempt.secret)
                if status in _REDIRECTS:
                    url = _redirect_target(url, response, followed, attempt.secret)
                    continue
                if not 200 <= status < 300:
                    raw = await read_body(response, ERROR_BODY_LIMIT, cut=True)
                    error = status_error(status, response.headers, raw, secret=attempt.secret)
                    attempt.request_id = error.request_id
                    raise error
                return await read_body(response, self.max_response_bytes, cut=False)
        raise RedirectError(
            f"Too many redirects (more than {_MAX_REDIRECTS}); the last pointed to "
            f"{safe_url(url)}.",
            status_code=attempt.status or 0,
            request_id=attempt.request_id,
        )


async def _run_on(
    owner: asyncio.AbstractEventLoop, close: Callable[[], Coroutine[Any, Any, None]]
) -> None:
    """Run ``close()`` on ``owner`` (a loop running in another thread) and wait for it."""
    if owner.is_closed():
        raise RuntimeError(
            "This client's connections belong to an event loop that is already closed, so "
            "they can no longer be closed cleanly. Close the client before its loop ends "
            "(use `async with AsyncClient(...)` inside the coroutine that loop runs)."
        )
    if not owner.is_running():
        raise RuntimeError(
            "This client's connections belong to another event loop, which is not running; "
            "close the client on that loop, e.g. loop.run_until_complete(client.close()), "
            "or with `async with AsyncClient(...)` inside the code that loop runs."
        )
    future = asyncio.run_coroutine_threadsafe(close(), owner)
    try:
        await asyncio.wait_for(asyncio.wrap_future(future), _FOREIGN_CLOSE_TIMEOUT)
    except asyncio.TimeoutError:
        raise RuntimeError(
            "This client's event loop (in another thread) did not close it within "
            f"{_FOREIGN_CLOSE_TIMEOUT:.0f} s; it may have stopped. Close the client on that "
            "loop before stopping it."
        ) from None


async def _within(timeout: float | None, coro: Coroutine[Any, Any, T]) -> T:
    """``await coro`` under one deadline (``asyncio.timeout``; ``wait_for`` on 3.10)."""
    if timeout is None:
        return await coro
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout):
            return await coro
    return await asyncio.wait_for(coro, timeout)


def _redirect_target(
    url: URL, response: aiohttp.ClientResponse, followed: set[tuple[URL, URL]], secret: SecretKey
) -> URL:
    """Where a redirect may lead: same origin, a well-formed Location, not a repeat.

    A loop is proven by the first redirect the server repeats (the same URL sending us to
    the same target again): a deterministic server would repeat it forever. Visiting a URL
    twice is not proof (a server may redirect to the same URL once, e.g. to set state).
    """
    status = response.status
    location = response.headers.get("Location")

    def refuse(why: str) -> RedirectError:
        return RedirectError(
            f"{status} redirect {why}.",
            status_code=status,
            request_id=request_id_from(response.headers, secret=secret),
            headers=redact_headers(response.headers, secret),
        )

    if location is None or not location.strip():
        raise refuse("without a Location header to follow")
    try:
        if not location.isascii():
            raise ValueError("not ASCII")
        target = url.join(URL(location))
        if target.scheme not in ("http", "https") or not target.host or target.port is None:
            raise ValueError("not an absolute http(s) URL")
        origin = target.origin()
    except (TypeError, ValueError, UnicodeError) as exc:
        raise refuse(
            f"with an invalid Location header ({location[:200]!a}: {exc}); not followed"
        ) from None
    if origin != url.origin():
        raise refuse(
            f"to another origin ({origin}) refused: the API key is never sent to another host"
        )
    if (url, target) in followed:
        raise refuse(f"loop: {safe_url(url)} sent us to {safe_url(target)} again in this attempt")
    followed.add((url, target))
    return target


def _connection_error(exc: BaseException, secret: SecretKey) -> APIConnectionError:
    # Certificate and URL problems do not heal by themselves; resets and refusals may.
    # aiohttp's text may quote what the server sent (a bad status line, a header).
    permanent = isinstance(exc, (aiohttp.ClientConnectorCertificateError, aiohttp.InvalidURL))
    return APIConnectionError(
        f"Connection error: {type(exc).__name__}: {clean(str(exc), secret=secret)}",
        retryable=not permanent,
    )


def _log_backoff(details: Any) -> None:
    error = details.get("exception")
    logger.debug(
        "retrying in %.2f s after %s (attempt %d failed)",
        details["wait"],
        type(error).__name__,
        details["tries"],
    )
