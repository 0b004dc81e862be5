"""The sandbox web app: routing, ASP.NET-style answers, injected faults and request stats."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import email.utils
import json
import math
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus

from aiohttp import web

from ._data import (
    DEFAULT_INVOICES_PER_ORG,
    invoices_payload,
    streamed_invoices_payload,
    wrongtype_payload,
)
from ._faults import FAULT_HEADER, Fault, FaultSyntaxError, parse
from ._limiter import Limiter

__all__ = ["Sandbox", "SeenRequest"]

INVOICES_PATH = "/invoices/paid"
_JSON = "application/json; charset=utf-8"
_PROBLEM = "application/problem+json; charset=utf-8"
_BACKLOG = 4096  # the kernel caps it at somaxconn; the default 128 drops SYNs under fan-out
_SHUTDOWN_TIMEOUT = 1.0  # in-flight answers are short; sleeping ones are woken at shutdown
_HISTORY = 1000
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_RFC9110 = "https://tools.ietf.org/html/rfc9110#section-"
# ASP.NET's ProblemDetails "type" per status (ProblemDetailsDefaults).
_TYPES = {
    400: _RFC9110 + "15.5.1",
    401: _RFC9110 + "15.5.2",
    403: _RFC9110 + "15.5.4",
    404: _RFC9110 + "15.5.5",
    405: _RFC9110 + "15.5.6",
    406: _RFC9110 + "15.5.7",
    408: _RFC9110 + "15.5.9",
    409: _RFC9110 + "15.5.10",
    412: _RFC9110 + "15.5.13",
    415: _RFC9110 + "15.5.16",
    422: _RFC9110 + "15.5.21",
    426: _RFC9110 + "15.5.22",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: _RFC9110 + "15.6.1",
    502: _RFC9110 + "15.6.3",
    503: _RFC9110 + "15.6.4",
    504: _RFC9110 + "15.6.5",
}


@dataclass(frozen=True)
class SeenRequest:
    """One request as the sandbox received it (for tests that inspect what a client sent)."""

    method: str
    path: str
    host: str
    headers: Mapping[str, str]


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _trace_id(request: web.Request) -> str:
    """A W3C trace id as ASP.NET puts in ``traceId``, continuing the caller's traceparent."""
    match = _TRACEPARENT.fullmatch(request.headers.get("traceparent", "").strip())
    trace = match[1] if match and match[1] != "0" * 32 else secrets.token_hex(16)
    return f"00-{trace}-{secrets.token_hex(8)}-00"


def _headers(trace: str, content_type: str | None = None) -> dict[str, str]:
    headers = {"Server": "Kestrel", "Request-Id": trace, "X-Request-Id": trace}
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def _problem(
    status: int, detail: str, trace: str, extra: Mapping[str, str] | None = None
) -> web.Response:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    kind = _TYPES.get(status, _RFC9110 + ("15.5" if status < 500 else "15.6"))
    body = {"type": kind, "title": title, "status": status, "detail": detail, "traceId": trace}
    return web.Response(
        status=status, body=_dumps(body), headers={**_headers(trace, _PROBLEM), **(extra or {})}
    )


def _disconnect(request: web.Request) -> web.Response:
    """Half a status line, then an abortive close: no valid HTTP response at all."""
    transport = request.transport
    if transport is not None:
        transport.write(b"HTTP/1.1 200 OK\r\nContent-Ty")
        transport.abort()
    return web.Response()  # never sent: aiohttp sees the closed transport


async def _stream(request: web.Request, chunks: Iterable[bytes], trace: str) -> web.StreamResponse:
    """Send a body as it is made, chunked (gzip when the client asks): nothing held whole."""
    response = web.StreamResponse(headers=_headers(trace, _JSON))
    response.enable_chunked_encoding()
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response.enable_compression(web.ContentCoding.gzip)
    await response.prepare(request)
    for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


async def _cut(request: web.Request, body: bytes, trace: str, *, abort: bool) -> web.StreamResponse:
    """Promise the whole body, send part of it, then close (FIN) or abort (RST)."""
    response = web.StreamResponse(headers=_headers(trace, _JSON))
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    if request.transport is not None:
        if abort:
            request.transport.abort()
        else:
            request.transport.close()
    return response


class Sandbox:
    """A local stand-in for the Console API, with fault injection and request statistics.

    Keys starting with ``sk_sandbox_`` are accepted (see ``apibricks.sandbox`` for the
    grammar); each org name is one deterministic organization. Statistics are plain
    attributes, safe to read from another thread while serving.
    """

    def __init__(
        self,
        *,
        invoices_per_org: int = DEFAULT_INVOICES_PER_ORG,
        latency: float = 0.0,
        rate_limit: float | None = None,
        burst: int = 1,
        per_key_rate_limit: float | None = None,
        per_key_burst: int | None = None,
        limiter: str = "token-bucket",
    ) -> None:
        if invoices_per_org < 0 or latency < 0:
            raise ValueError("invoices_per_org and latency must not be negative")
        # A 429 without Retry-After past these rates (see _limiter); None when unlimited.
        self.limiter = None
        if rate_limit is not None or per_key_rate_limit is not None:
            self.limiter = Limiter(
                rate_limit=rate_limit,
                burst=burst,
                per_key_rate_limit=per_key_rate_limit,
                per_key_burst=per_key_burst,
                algorithm=limiter,
            )
        self.invoices_per_org = invoices_per_org
        self.latency = latency
        self.url: str | None = None
        self.other_origin_url: str | None = None
        self._closing: asyncio.Event | None = None
        self._changed = threading.Condition()
        self.in_flight = 0
        self.reset_stats()

    # -- statistics ------------------------------------------------------------------------

    def reset_stats(self) -> None:
        """Forget every count and recorded request; transient faults start over too."""
        self.total_requests = 0
        self.peak_in_flight = self.in_flight
        self.last_headers: Mapping[str, str] | None = None
        self.history: collections.deque[SeenRequest] = collections.deque(maxlen=_HISTORY)
        self._per_key: collections.Counter[str] = collections.Counter()
        self._attempts: collections.Counter[tuple[str, str]] = collections.Counter()

    def requests_for(self, key: str | None) -> int:
        """Requests seen with exactly this ``Authorization`` value (None/"" = without one)."""
        return self._per_key[key or ""]

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until ``condition()`` holds, re-checked whenever a request starts or ends.

        For code on another thread than the server's (``serve_in_thread``): a test waits
        for "the server has seen it" instead of guessing with a sleep.
        """
        with self._changed:
            if not self._changed.wait_for(condition, timeout):
                raise TimeoutError(f"sandbox condition not met within {timeout} s")

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # -- serving ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Listen on ``host:port`` (0 = a free port) and yield the base URL until exit.

        ``host`` should be a literal IP address. Exiting closes the listeners, wakes
        requests that are sleeping (``slow``, ``latency``) and drops their connections.

        A second listener on another port is the "other origin" that
        ``/redirect-other-origin`` and the ``redirectother`` fault point to.
        """
        if self._closing is not None:
            raise RuntimeError("this Sandbox is already serving")
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_shutdown.append(self._on_shutdown)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        self._closing = asyncio.Event()
        # Our own listeners rather than TCPSites: shutdown must reach their sockets.
        listeners: list[asyncio.Server] = []
        try:
            await runner.setup()
            loop, protocols = asyncio.get_running_loop(), runner.server
            assert protocols is not None  # made by setup()
            for listen_port in (port, 0):
                listener = await loop.create_server(protocols, host, listen_port, backlog=_BACKLOG)
                listeners.append(listener)
            self.url = _base_url(host, listeners[0].sockets[0].getsockname())
            self.other_origin_url = _base_url(host, listeners[1].sockets[0].getsockname())
            yield self.url
        finally:
            await _stop_listening(listeners)
            await runner.cleanup()
            self._closing = None
            self.url = self.other_origin_url = None

    def serve_in_thread(
        self, host: str = "127.0.0.1", port: int = 0
    ) -> contextlib.AbstractContextManager[str]:
        """``serve()`` on a daemon thread with its own event loop, for sync code."""
        from ._server import serve_in_thread

        return serve_in_thread(self, host, port)

    async def _on_shutdown(self, app: web.Application) -> None:
        if self._closing is not None:
            self._closing.set()  # wake sleeping handlers so shutdown does not wait for them

    async def _sleep(self, seconds: float) -> bool:
        """Sleep; False if the server started shutting down meanwhile."""
        assert self._closing is not None
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except asyncio.TimeoutError:
            return True
        return False

    # -- handling --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        key = request.headers.get("Authorization")
        self.total_requests += 1
        self._per_key[key or ""] += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self.last_headers = request.headers
        self.history.append(
            SeenRequest(request.method, request.path_qs, request.host, request.headers)
        )
        self._notify()
        try:
            limiter = self.limiter
            # nginx answers its refusals itself, at once; the upstream's latency (and
            # limit_req's hold without nodelay) is for the requests it lets through.
            in_front = limiter is not None and limiter.algorithm.startswith("nginx")
            hold = 0.0
            if limiter is not None and in_front:
                decided = limiter.decide(key or "")
                if decided is None:
                    return self._refused(request)
                hold = decided
            if (hold or self.latency) and not await self._sleep(hold + self.latency):
                return _disconnect(request)
            if limiter is not None and not in_front and not limiter.admit(key or ""):
                return self._refused(request)
            return await self._route(request, key, _trace_id(request))
        finally:
            self.in_flight -= 1
            self._notify()

    def _refused(self, request: web.Request) -> web.Response:
        assert self.limiter is not None
        wait = self.limiter.retry_after
        extra = None if wait is None else {"Retry-After": f"{wait:g}"}
        return _problem(429, "Rate limit exceeded.", _trace_id(request), extra)

    async def _route(self, request: web.Request, key: str | None, trace: str) -> web.StreamResponse:
        # ASP.NET routing: case-insensitive, a trailing slash is ignored.
        path = request.path.rstrip("/").lower()
        if path == INVOICES_PATH:
            if request.method != "GET":
                detail = f"Method {request.method} is not allowed on {INVOICES_PATH}."
                return _problem(405, detail, trace, {"Allow": "GET"})
            return await self._invoices(request, key, trace)
        if path == "/redirect-same-origin":
            return self._redirect(INVOICES_PATH, trace)
        if path == "/redirect-other-origin":
            return self._redirect(f"{self.other_origin_url}{INVOICES_PATH}", trace)
        return _problem(404, f"No endpoint matches {request.method} {request.path}.", trace)

    def _redirect(self, location: str, trace: str) -> web.Response:
        headers = {**_headers(trace), "Location": location}
        return web.Response(status=307, headers=headers)

    async def _invoices(
        self, request: web.Request, key: str | None, trace: str
    ) -> web.StreamResponse:
        header = request.headers.get(FAULT_HEADER, "")
        try:
            parsed = parse(key, header)
        except FaultSyntaxError as exc:
            return _problem(400, f"Invalid sandbox fault: {exc}.", trace)
        if parsed is None:
            return _problem(401, "The API key is missing or invalid.", trace)
        org, scenario = parsed
        self._attempts[key or "", header] += 1
        attempt = self._attempts[key or "", header]
        delay = scenario.delay(attempt)
        if delay and not await self._sleep(delay):
            return _disconnect(request)
        fault = scenario.answer(attempt)
        n = self.invoices_per_org if scenario.invoices is None else scenario.invoices
        if fault is None and scenario.streamed:
            return await _stream(
                request, streamed_invoices_payload(org, n, aspnet=scenario.aspnet), trace
            )
        if fault is None:
            body = invoices_payload(org, n, aspnet=scenario.aspnet)
            return web.Response(body=body, headers=_headers(trace, _JSON))
        return await self._inject(request, fault, org, n, trace, aspnet=scenario.aspnet)

    async def _inject(
        self, request: web.Request, fault: Fault, org: str, n: int, trace: str, *, aspnet: bool
    ) -> web.StreamResponse:
        if fault.kind == "status":
            return _status_fault(fault, trace)
        if fault.kind == "disconnect":
            return _disconnect(request)
        if fault.kind == "redirect":
            return self._redirect(INVOICES_PATH, trace)
        if fault.kind == "redirectother":
            return self._redirect(f"{self.other_origin_url}{INVOICES_PATH}", trace)
        if fault.kind == "wrongtype":
            body = wrongtype_payload(org, n, aspnet=aspnet)
            return web.Response(body=body, headers=_headers(trace, _JSON))
        body = invoices_payload(org, n, aspnet=aspnet)
        if fault.kind == "malformed":
            return web.Response(body=body[: len(body) // 2], headers=_headers(trace, _JSON))
        return await _cut(request, body, trace, abort=fault.kind == "reset")


async def _stop_listening(listeners: list[asyncio.Server]) -> None:
    """Close the listeners without racing the connections they have just accepted.

    A selector loop accepts a batch of connections in one callback and sets each one up in
    a task that runs on the next turn; ``Server.close()`` in between makes that task fail
    (CPython 3.10-3.13: "Error on transport creation", then an unclosed socket and
    transport). So stop accepting first, give the turn to the set-up tasks already
    scheduled, and only then close: every accepted connection is the runner's to shut down.
    """
    loop = asyncio.get_running_loop()
    for listener in listeners:
        for sock in listener.sockets:
            with contextlib.suppress(NotImplementedError):  # a loop without add_reader
                loop.remove_reader(sock.fileno())  # also cancels an accept due this turn
    await asyncio.sleep(0)
    for listener in listeners:
        listener.close()


def _status_fault(fault: Fault, trace: str) -> web.Response:
    extra: dict[str, str] = {}
    detail = f"Sandbox fault: {fault.status} injected."
    if fault.retry_after is not None:
        if fault.retry_after_date:
            when = math.ceil(time.time() + fault.retry_after)
            extra["Retry-After"] = email.utils.formatdate(when, usegmt=True)
        else:
            extra["Retry-After"] = _number(fault.retry_after)
        detail += f" Retry after {_number(fault.retry_after)} seconds."
    return _problem(fault.status, detail, trace, extra)


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _base_url(host: str, address: object) -> str:
    port = address[1] if isinstance(address, tuple) else 0
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else "[::1]" if host == "::" else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"
