"""The one place that talks HTTP: session lifecycle, the attempt loop, logging.

A `Transport` is the connection pool: it belongs to a root `AsyncClient` and is shared by
every view made with ``with_api_key``/``with_options``, so a fan-out over thousands of
keys uses one pool. What may differ per view (timeout, retries, headers, size cap, hooks)
travels with each call as `CallOptions`.
Every failure leaves here as an `APIBricksError`; the aiohttp/asyncio original is
kept as ``__cause__``.

A call reads top to bottom: `Transport.get` (the call's span) -> `Transport._call` (the
attempt loop: a start slot when a fan-out paces it, one attempt, then `next_attempt`
decides: give up, resend for free, or log, run the ``retry`` hooks and wait) ->
`Transport._attempt` (hooks and the exchange under one deadline, failures made typed) ->
`Transport._exchange` (redirects by hand, the body under its cap).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import aiohttp
from yarl import URL

from .._auth import SecretKey, key_hint
from .._deadline import Deadline
from .._env_proxy import proxy_for
from .._exceptions import (
    APIBricksError,
    APIConnectionError,
    APITimeoutError,
    RedirectError,
)
from .._hooks import Hook, HookEvent, HookFailed, run_hooks
from .._limits import ERROR_BODY_LIMIT, read_body
from .._loop_end import LoopEndWatch
from .._problem import request_id_from, status_error
from .._release import release
from .._retry import next_attempt
from .._sanitize import clean, hide, redact_headers
from .._tls import certificate_error
from .._tracing import call_span, record_outcome, tracer
from .._urls import check_base_url, safe_url
from .._version import __version__
from ._pacing import Lane
from ._streaming import BodyStream

if TYPE_CHECKING:
    from ssl import SSLContext

    from multidict import CIMultiDictProxy
    from opentelemetry.trace import Tracer

    from .._settings import ClientSettings
    from ._pacing import Pacer

__all__ = ["USER_AGENT", "CallOptions", "Reply", "Transport"]

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
# Forks this process descends from since import, counted by an at-fork hook: every attempt
# checks it, and comparing two ints costs nothing where ``os.getpid()`` is a system call.
_forks = 0


def _count_fork() -> None:
    global _forks
    _forks += 1


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork to detect
    os.register_at_fork(after_in_child=_count_fork)


class CallOptions:
    """The per-call half of `ClientSettings` plus the event hooks, prepared once per view."""

    __slots__ = (
        "headers",
        "hooks",
        "max_response_bytes",
        "max_retries",
        "retry_after_cap",
        "ssl",
        "timeout",
    )

    def __init__(
        self,
        settings: ClientSettings,
        hooks: Mapping[str, tuple[Hook, ...]],
        ssl: SSLContext | bool,
    ) -> None:
        self.ssl = ssl  # settings.ssl resolved (`_tls.ssl_for_aiohttp`); pooled per trust
        self.timeout = settings.timeout
        self.max_retries = settings.max_retries
        self.retry_after_cap = settings.retry_after_cap
        self.max_response_bytes = settings.max_response_bytes
        self.headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            **settings.default_headers,
        }
        self.hooks = hooks


class Reply(NamedTuple):
    """A call's successful answer, for `APIResponse` and the plain methods."""

    status: int
    headers: CIMultiDictProxy[str]
    url: str
    body: bytes
    elapsed: float
    retries: int
    # A streamed call's body, still unread: the caller reads it, then closes it.
    stream: BodyStream | None = None
    # The request's key: what a decode error built from this reply hides (see _decoded).
    secret: SecretKey | None = None


class _Attempt:
    """One call's state, from attempt to attempt: what the loop, hooks and logs report."""

    __slots__ = (
        "_request_id",
        "elapsed",
        "free_resend",
        "headers",
        "key",
        "lane",
        "number",
        "options",
        "queued",
        "reply_headers",
        "shown",
        "start",
        "status",
        "streamed",
        "tracer",
        "url",
    )

    def __init__(
        self,
        endpoint: tuple[URL, str],
        key: SecretKey,
        headers: Mapping[str, str],
        options: CallOptions,
        tracer: Tracer | None,
        lane: Lane | None,
    ) -> None:
        self.start, self.shown = endpoint  # the URL, and as logs may show it
        self.url = self.start
        self.key = key
        self.headers = headers  # everything but the key, which joins at the last moment
        self.status: int | None = None
        self.reply_headers: CIMultiDictProxy[str] | None = None
        self._request_id: str | None = None
        self.options = options
        self.tracer = tracer
        self.number = 0
        self.lane = lane  # the pace of the fan-out whose key view makes the call, if any
        self.queued = 0.0  # when this attempt queued for its start slot (the lane's clock)
        # The last answer was a 429 the fan-out's pace caused: resend after this many s, free.
        self.free_resend: float | None = None
        self.elapsed = 0.0
        self.streamed = False  # a 2xx is handed over unread, its connection open

    @property
    def key_hint(self) -> str:
        return key_hint(self.key)

    def answered(self, status: int | None, headers: CIMultiDictProxy[str] | None) -> None:
        """The last reply's status and headers (None, None: no reply yet)."""
        self.status, self.reply_headers, self._request_id = status, headers, _NOT_READ

    @property
    def request_id(self) -> str | None:
        """The server's id for the last reply: read when asked (most calls never ask)."""
        if self._request_id is _NOT_READ:
            headers = self.reply_headers
            self._request_id = (
                None if headers is None else request_id_from(headers, secret=self.key)
            )
        return self._request_id

    @request_id.setter
    def request_id(self, value: str | None) -> None:
        self._request_id = value

    def event(self, name: Any, url: URL, **fields: Any) -> HookEvent:
        return HookEvent(
            event=name,
            method="GET",
            url=safe_url(url, self.key),
            attempt=self.number,
            key_hint=self.key_hint,
            **fields,
        )


class Transport:
    """Owns (or borrows) the aiohttp session and runs requests with retries."""

    def __init__(self, settings: ClientSettings, *, session: aiohttp.ClientSession | None) -> None:
        """The pool half of ``settings`` (checked already) sets the pool up; no I/O."""
        base_url = check_base_url(
            settings.base_url, allow_insecure_http=settings.allow_insecure_http
        )
        proxy, proxy_auth = proxy_for(settings, base_url, os.environ)  # the environment's: now
        self.base_url = base_url
        self.max_connections = settings.max_connections
        self.proxy = proxy
        # The header is built here (aiohttp.BasicAuth is deprecated as of aiohttp 3.14). To
        # an https origin it goes on the proxy's CONNECT only, never inside the tunnel; to
        # a plain-http origin the proxy gets the request itself, so it goes on the request.
        auth = {"Proxy-Authorization": _basic_auth(*proxy_auth)} if proxy_auth else {}
        tunnelled = base_url.scheme == "https"
        self.proxy_headers = auth if tunnelled and auth else None
        self._proxied_request_headers = {} if tunnelled else auth
        self._session = session
        self._owns_session = session is None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._loop_end: LoopEndWatch | None = None  # releases our session as its loop ends
        self._pid = os.getpid()
        self._forks = _forks
        self._closed = False
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._cancelled_by_close: set[asyncio.Task[Any]] = set()
        self._endpoints: dict[str, tuple[URL, str]] = {}
        # The tracer each running fan-out asked for once (see `traced_fan_out`).
        self._fan_out_tracers: dict[Pacer, Tracer | None] = {}

    @property
    def closed(self) -> bool:
        return self._closed

    def traced_fan_out(self, pacer: Pacer) -> None:
        """A fan-out starts: its calls use the tracer asked for now (`tracer()` costs
        more than the rest of a call's bookkeeping while OpenTelemetry's API is installed
        without a provider), until `fan_out_ended`. A provider set during a fan-out
        traces the next one."""
        self._fan_out_tracers[pacer] = tracer()

    def fan_out_ended(self, pacer: Pacer) -> None:
        self._fan_out_tracers.pop(pacer, None)

    def session(self) -> aiohttp.ClientSession:
        """The session for the running loop, created on first use (never at import or init)."""
        if self._closed:
            raise APIBricksError("This client is closed; create a new one.")
        if self._forks != _forks:
            self._forget_session_after_fork()
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0)
            # trust_env stays off: the environment's proxy was resolved once (`_env_proxy`).
            session = self._session = aiohttp.ClientSession(connector=connector)
            self._session_loop = loop
            self._loop_end = LoopEndWatch(self._release_at_loop_end)
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
        if self._loop_end is not None:
            self._loop_end.abandon()
            self._loop_end = None
        self._session_loop = None
        self._pid, self._forks = os.getpid(), _forks

    async def _release_at_loop_end(self) -> None:
        """Our session's loop is ending (``asyncio.run`` returns) and the client was not
        closed: close the pool there, while the loop can still run, rather than leave its
        sockets to be reported unclosed. The client stays open: a later call, on another
        loop, opens a new pool."""
        if self._closed or self._session_loop is not asyncio.get_running_loop():
            return  # closed already (or being closed by `_close_here`)
        session, self._session = self._session, None
        self._session_loop = self._loop_end = None
        if session is not None and self._owns_session:
            await session.close()

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
        loop_end, self._loop_end = self._loop_end, None
        if loop_end is not None:
            await loop_end.disarm()
        if session is not None and self._owns_session and self._pid == os.getpid():
            await session.close()

    async def get(
        self,
        path: str,
        key: SecretKey,
        options: CallOptions,
        lane: Lane | None = None,
        *,
        streamed: bool = False,
    ) -> Reply:
        """GET ``path`` under the base URL with retries; the 2xx reply, or a typed error.

        ``lane``: the pace of the fan-out whose key view makes this call (None: unpaced).
        ``streamed``: the reply comes as soon as a 2xx's headers do, its body unread in
        ``reply.response``, which the caller must close; retries end there.
        A hook's exception ends the call as itself (see `_hooks`). The key stays wrapped
        until the request is built (see `_exchange`), so no frame here holds it as text
        for a crash reporter to record.
        """
        active = tracer() if lane is None else self._fan_out_tracers.get(lane.pacer, _ASK_TRACER)
        if active is _ASK_TRACER:  # a lane of a fan-out not announced: ask, as a plain call
            active = tracer()
        endpoint, headers = self._endpoint(path), self._headers(options)
        attempt = _Attempt(endpoint, key, headers, options, active, lane)
        attempt.streamed = streamed
        try:
            if active is None:  # the usual case: no span to open, nothing to record
                return await self._call(attempt)
            with call_span(active, f"GET {path}", client=False, url=attempt.start) as span:
                try:
                    reply = await self._call(attempt)
                except BaseException as error:
                    status = getattr(error, "status_code", None)
                    record_outcome(span, status=status, error=error, resend=attempt.number - 1)
                    raise
                record_outcome(span, status=reply.status, error=None, resend=attempt.number - 1)
                return reply
        except APIBricksError as error:
            # The error leaves the library: the frames it left keep none of what they read
            # (the body, the response, what was parsed), and this one keeps no reply.
            release(error)
            del attempt
            raise

    async def _call(self, attempt: _Attempt) -> Reply:
        """The attempt loop: attempt; on failure decide (`next_attempt`), tell, wait, again."""
        options = attempt.options
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        retries = 0  # spent so far (a free resend of a 429 the pace caused spends none)
        try:
            while True:
                lane = attempt.lane
                if lane is not None:  # a fan-out's: its start slot (waited for, if taken)
                    slot = lane.pacer.start_now()
                    attempt.queued = await lane.acquire() if slot is None else slot
                try:
                    return await self._attempt(attempt)
                except APIBricksError as error:
                    release(error)  # a retry waits holding none of what this attempt read
                    failure = error  # decided outside the handler: no chaining to it
                then = next_attempt(
                    failure,
                    retries=retries,
                    max_retries=options.max_retries,
                    retry_after_cap=options.retry_after_cap,
                    free_resend=attempt.free_resend,
                )
                if then is None:
                    raise failure
                if not then.free:
                    retries += 1
                    status = getattr(failure, "status_code", None)
                    request_id = getattr(failure, "request_id", None)  # cleaned when read
                    logger.info(
                        "retrying in %.2f s: GET %s attempt %d of %d failed with %s "
                        "(request id %s, key %s)",
                        then.wait,
                        safe_url(attempt.url, attempt.key),
                        attempt.number,
                        options.max_retries + 1,
                        status if status is not None else type(failure).__name__,
                        request_id or "-",
                        attempt.key_hint,
                    )
                    if "retry" in options.hooks:
                        event = attempt.event(
                            "retry",
                            attempt.url,
                            status_code=status,
                            elapsed=attempt.elapsed,
                            request_id=request_id,
                            error_type=type(failure).__name__,
                            wait=then.wait,
                        )
                        await run_hooks(options.hooks["retry"], event)
                del failure  # its traceback holds this frame
                await asyncio.sleep(then.wait)
        except HookFailed as failed:
            raise failed.error from None
        except asyncio.CancelledError:
            if not self._was_cancelled_only_by_close(task):
                raise
            raise APIConnectionError(
                "The client was closed while this request was in flight.", retryable=False
            ) from None
        finally:
            self._in_flight.discard(task)

    def _endpoint(self, path: str) -> tuple[URL, str]:
        """``path``'s URL under the base URL, and as logs may show it: built once per path."""
        endpoint = self._endpoints.get(path)
        if endpoint is None:
            url = self.base_url.with_path(self.base_url.path.rstrip("/") + path, encoded=False)
            if len(self._endpoints) >= 64:  # the API has a handful of paths
                self._endpoints.clear()
            endpoint = self._endpoints[path] = url, safe_url(url)
        return endpoint

    def _headers(self, options: CallOptions) -> Mapping[str, str]:
        """Every request header but the key's (a proxy's credentials join only plain http)."""
        extra = self._proxied_request_headers
        return {**options.headers, **extra} if extra else options.headers

    def _was_cancelled_only_by_close(self, task: asyncio.Task[Any]) -> bool:
        if task not in self._cancelled_by_close:
            return False
        self._cancelled_by_close.discard(task)
        if sys.version_info >= (3, 11):
            task.uncancel()
            return task.cancelling() == 0  # else the caller cancelled too: honour that
        return True

    async def _attempt(self, attempt: _Attempt) -> Reply:
        """One attempt: hooks and the exchange under one deadline, in a span when tracing,
        logged at DEBUG; every failure leaves as an `APIBricksError` (or `HookFailed`)."""
        options = attempt.options
        attempt.number += 1
        attempt.free_resend = None
        resend = attempt.number - 1
        with call_span(
            attempt.tracer, "GET", client=True, url=attempt.start, resend=resend
        ) as span:
            try:
                session = self.session()
                started = time.monotonic()  # asyncio's clock
                attempt.answered(None, None)
                try:
                    if "request" in options.hooks:
                        event = attempt.event("request", attempt.start)
                        await run_hooks(options.hooks["request"], event)
                    # One deadline over the whole attempt: redirects, body read and inflation
                    # (aiohttp runs no timers of its own: one per attempt is enough).
                    with Deadline(options.timeout):
                        reply = await self._exchange(session, attempt, started)
                except (APIBricksError, HookFailed):
                    raise
                except asyncio.TimeoutError as exc:
                    raise APITimeoutError(
                        f"Request timed out after {options.timeout} s (attempt {attempt.number})."
                    ) from exc
                except RecursionError:
                    raise  # a bug, not a network failure: never retried as one
                except (aiohttp.ClientError, OSError, RuntimeError) as exc:
                    # RuntimeError: aiohttp's "Session is closed" / "Connection closed." when
                    # the pool is closed under a request (ours, or an injected session).
                    raise _connection_error(exc, attempt.key) from exc
                finally:
                    attempt.elapsed = time.monotonic() - started
                    if logger.isEnabledFor(logging.DEBUG):
                        logger.debug(
                            "GET %s -> %s in %.1f ms (attempt %d, request id %s, key %s)",
                            safe_url(attempt.url, attempt.key),
                            attempt.status if attempt.status is not None else "no response",
                            attempt.elapsed * 1000,
                            attempt.number,
                            attempt.request_id or "-",
                            attempt.key_hint,
                        )
            except (APIBricksError, HookFailed) as raised:
                cause = raised.error if isinstance(raised, HookFailed) else raised
                record_outcome(span, status=attempt.status, error=cause)
                raise
            if span is not None:
                record_outcome(span, status=attempt.status, error=None)
            return reply

    async def _exchange(
        self, session: aiohttp.ClientSession, attempt: _Attempt, started: float
    ) -> Reply:
        """One attempt: follow same-origin redirects by hand, read the body under the cap."""
        options = attempt.options
        url = attempt.start
        followed: set[tuple[URL, URL]] | None = None  # redirects seen (most attempts: none)
        redirected: tuple[int, CIMultiDictProxy[str]] | None = None  # the last 3xx
        for _ in range(_MAX_REDIRECTS + 1):
            attempt.url = url
            response = await session.get(
                url,
                headers={**attempt.headers, "Authorization": attempt.key.reveal()},
                timeout=_NO_AIOHTTP_TIMEOUT,
                allow_redirects=False,
                auto_decompress=False,
                proxy=self.proxy,
                proxy_headers=self.proxy_headers,
                ssl=options.ssl,
            )
            kept = False  # a streamed 2xx leaves with its connection open
            try:
                status = response.status
                attempt.answered(status, response.headers)
                lane = attempt.lane
                if lane is not None:  # the fan-out's pace learns from every answer
                    attempt.free_resend = lane.pacer.observe(
                        lane, attempt.queued, status, response.headers
                    )
                if status in _REDIRECTS:
                    if followed is None:
                        followed = set()
                    url = _redirect_target(url, response, followed, attempt.key)
                    redirected = status, response.headers
                    attempt.answered(None, None)  # a failure from here on got no reply
                    continue
                ok = 200 <= status < 300
                if ok and attempt.streamed:
                    body = b""
                elif ok:
                    body = await read_body(response, options.max_response_bytes, cut=False)
                else:
                    body = await read_body(response, ERROR_BODY_LIMIT, cut=True)
                attempt.elapsed = time.monotonic() - started
                if "response" in options.hooks:
                    event = attempt.event(
                        "response",
                        url,
                        status_code=status,
                        elapsed=attempt.elapsed,
                        request_id=attempt.request_id,
                    )
                    await run_hooks(options.hooks["response"], event)
                if not ok:
                    error = status_error(status, response.headers, body, secret=attempt.key)
                    attempt.request_id = error.request_id
                    raise error
                kept = attempt.streamed
                return Reply(
                    status,
                    response.headers,
                    attempt.shown if url is attempt.start else safe_url(url, attempt.key),
                    body,
                    attempt.elapsed,
                    attempt.number - 1,
                    BodyStream(response, options.timeout) if kept else None,
                    attempt.key,
                )
            finally:
                if not kept:
                    response.release()
                    await response.wait_for_close()
        assert redirected is not None
        attempt.answered(*redirected)  # the error, logs and spans report the last 3xx
        raise RedirectError(
            f"Too many redirects (more than {_MAX_REDIRECTS}); the last, a {redirected[0]}, "
            f"pointed to {safe_url(url, attempt.key)}.",
            status_code=redirected[0],
            request_id=attempt.request_id,
            headers=redact_headers(redirected[1], attempt.key),
        )


async def _run_on(
    owner: asyncio.AbstractEventLoop, close: Callable[[], Coroutine[Any, Any, None]]
) -> None:
    """Run ``close()`` on ``owner`` (a loop running in another thread) and wait for it."""
    if owner.is_closed():
        raise RuntimeError(
            "This client's connections belong to an event loop that was closed without "
            "shutting down its async generators, so they can no longer be closed cleanly. "
            "Close the client before its loop ends (`async with AsyncClient(...)` inside the "
            "coroutine that loop runs), or end the loop with asyncio.run() or asyncio.Runner, "
            "or run loop.shutdown_asyncgens() before loop.close(): the client then releases "
            "its connections as the loop ends."
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


_NOT_READ: Final[Any] = object()
_ASK_TRACER: Final[Any] = object()
_NO_AIOHTTP_TIMEOUT: Final = aiohttp.ClientTimeout()


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
            hide(f"{status} redirect {why}.", secret),  # a Location may echo the key
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
            f"with an invalid Location header ({hide(location, secret)[:200]!a}: {exc}); "
            "not followed"
        ) from None
    if origin != url.origin():
        raise refuse(
            f"to another origin ({origin}) refused: the API key is never sent to another host"
        )
    if (url, target) in followed:
        raise refuse(
            f"loop: {safe_url(url, secret)} sent us to {safe_url(target, secret)} again in this "
            "attempt"
        )
    followed.add((url, target))
    return target


def _basic_auth(login: str, password: str) -> str:
    # UTF-8: RFC 7617's one charset (latin-1 could not encode e.g. "Ā", and raised at init).
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode("ascii")


def _connection_error(exc: BaseException, secret: SecretKey) -> APIConnectionError:
    # Certificate and URL problems do not heal by themselves; resets and refusals may.
    # aiohttp's text may quote what the server sent (a bad status line, a header).
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return certificate_error(exc)
    text = clean(str(exc), secret=secret)
    if "WRONG_VERSION_NUMBER" in text:  # TLS spoken to a port that answers in plain HTTP
        return APIConnectionError(
            "Connection error: the server at this port does not speak TLS "
            f"(WRONG_VERSION_NUMBER): is base_url http:// rather than https://? Not retried: "
            f"the next attempt would meet the same answer. ({type(exc).__name__}: {text})",
            retryable=False,
        )
    permanent = isinstance(exc, aiohttp.InvalidURL)
    return APIConnectionError(
        f"Connection error: {type(exc).__name__}: {text}", retryable=not permanent
    )
