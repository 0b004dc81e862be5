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
from collections.abc import Mapping
from typing import Any, Final

import aiohttp
import backoff
from yarl import URL

from .._exceptions import APIBricksError, APIConnectionError, APIStatusError, APITimeoutError
from .._problem import request_id_from, status_error
from .._retry import gives_up, retry_waits
from .._version import __version__

__all__ = ["USER_AGENT", "Transport"]

logger: Final = logging.getLogger("apibricks")

USER_AGENT: Final = (
    f"apibricks/{__version__} aiohttp/{aiohttp.__version__} python/{platform.python_version()}"
)
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS: Final = 5
_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

# Sessions abandoned in a forked child: they belong to the parent's (dead here) loop and
# must be neither used nor closed; holding them keeps their finalizers from warning.
_ABANDONED_AFTER_FORK: list[aiohttp.ClientSession] = []


def check_base_url(base_url: str, *, allow_insecure_http: bool) -> URL:
    """Validate ``base_url`` before any I/O: a key must never travel in clear text by accident."""
    url = URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}.")
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        raise ValueError(
            f"Refusing plain http:// to {url.host}: the API key would travel unencrypted. "
            "Use https://, or pass allow_insecure_http=True if you really mean it."
        )
    return url.with_query(None).with_fragment(None)


def _is_loopback(host: str) -> bool:
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


def _safe_url(url: URL) -> str:
    """The URL as it may appear in logs and errors: no userinfo, no query."""
    return str(url.with_user(None).with_query(None))


class _Attempt:
    """Mutable per-call state threaded through backoff's retries."""

    __slots__ = ("headers", "number", "url")

    def __init__(self, url: URL, headers: Mapping[str, str]) -> None:
        self.url = url
        self.headers = headers
        self.number = 0


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
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0.")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds, or None.")
        if max_connections < 0:
            raise ValueError("max_connections must be >= 0 (0 means unlimited).")
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
        )(self._retry)

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
        """Close the session we created; an injected one is the caller's to close."""
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

    async def get(self, path: str, headers: Mapping[str, str]) -> bytes:
        """GET ``path`` under the base URL with retries; the 2xx body, or a typed error."""
        url = self.base_url.with_path(self.base_url.path.rstrip("/") + path, encoded=False)
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        attempt = _Attempt(url, {**self.headers, **headers})
        try:
            try:  # the first attempt costs no retry machinery; backoff takes over on failure
                body: bytes = await self._attempt(attempt)
            except APIBricksError as error:
                body = await self._send(attempt, [error])
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

    async def _retry(self, attempt: _Attempt, failed: list[APIBricksError]) -> bytes:
        """Backoff's callable: first replays the failure `get` saw, so backoff counts and
        waits for it, then attempts again."""
        if failed:
            raise failed.pop()
        return await self._attempt(attempt)

    async def _attempt(self, attempt: _Attempt) -> bytes:
        attempt.number += 1
        session = self.session()
        loop = asyncio.get_running_loop()
        started = loop.time()
        url = attempt.url
        status: int | None = None
        request_id: str | None = None
        try:
            for _ in range(_MAX_REDIRECTS + 1):
                async with session.get(
                    url,
                    headers=attempt.headers,
                    timeout=self._client_timeout,
                    allow_redirects=False,
                ) as response:
                    status = response.status
                    request_id = request_id_from(response.headers)
                    if status in _REDIRECTS and "Location" in response.headers:
                        url = _same_origin_redirect(url, response, attempt.number)
                        continue
                    body = await response.read()
                    if status >= 400:
                        error = status_error(status, response.headers, body)
                        request_id = error.request_id
                        raise error
                    return body
            raise APIConnectionError(f"Too many redirects (more than {_MAX_REDIRECTS}).")
        except APIBricksError:
            raise
        except asyncio.TimeoutError as exc:
            raise APITimeoutError(
                f"Request timed out after {self.timeout} s (attempt {attempt.number})."
            ) from exc
        except (aiohttp.ClientError, OSError, RuntimeError) as exc:
            # RuntimeError: aiohttp's "Session is closed" / "Connection closed." when the
            # pool is closed under a request (ours, or an injected session by its owner).
            raise _connection_error(exc) from exc
        finally:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "GET %s -> %s in %.1f ms (attempt %d, request id %s)",
                    _safe_url(url),
                    status if status is not None else "no response",
                    (loop.time() - started) * 1000,
                    attempt.number,
                    request_id or "-",
                )


def _same_origin_redirect(url: URL, response: aiohttp.ClientResponse, attempt: int) -> URL:
    target = url.join(URL(response.headers["Location"]))
    if target.origin() != url.origin():
        raise APIStatusError(
            f"{response.status} redirect to another origin ({target.origin()}) refused: "
            "the API key is never sent to another host.",
            status_code=response.status,
            request_id=request_id_from(response.headers),
            headers=response.headers,
        )
    return target


def _connection_error(exc: BaseException) -> APIConnectionError:
    # Certificate and URL problems do not heal by themselves; resets and refusals may.
    permanent = isinstance(exc, (aiohttp.ClientConnectorCertificateError, aiohttp.InvalidURL))
    return APIConnectionError(
        f"Connection error: {type(exc).__name__}: {exc}", retryable=not permanent
    )


def _log_backoff(details: Any) -> None:
    error = details.get("exception")
    logger.debug(
        "retrying in %.2f s after %s (attempt %d failed)",
        details["wait"],
        type(error).__name__,
        details["tries"],
    )
