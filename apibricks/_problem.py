"""Turning a non-2xx answer into the right `APIStatusError`.

ASP.NET answers errors with RFC 9457 problem details (``title``, ``detail``,
``traceId``); anything else (an HTML page from a proxy, an empty body) still gives a
useful message built from the status line and the page's title or first line of text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from ._auth import SecretKey
from ._exceptions import APIStatusError, status_error_class
from ._page import headline
from ._retry import parse_retry_after
from ._sanitize import clean, hide, redact, redact_headers

__all__ = ["REQUEST_ID_HEADERS", "request_id_from", "status_error"]

REQUEST_ID_HEADERS = ("Request-Id", "X-Request-Id", "X-Correlation-Id", "TraceParent")
_MAX_TEXT_BODY = 2000


def request_id_from(
    headers: Mapping[str, str], body: Any = None, *, secret: SecretKey | None = None
) -> str | None:
    """The server's id for this request (escaped and capped: it is server text)."""
    if isinstance(body, dict):
        trace_id = body.get("traceId")
        if isinstance(trace_id, str) and trace_id:
            return clean(trace_id, secret=secret)
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return clean(value, secret=secret)
    return None


def _parse_body(raw: bytes, secret: SecretKey | None) -> Any:
    """The body as parsed JSON, else as text: the key hidden first, then cut."""
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    try:
        return redact(json.loads(text), secret)
    except (ValueError, RecursionError):  # RecursionError: a hostile, deeply nested body
        return hide(text, secret)[:_MAX_TEXT_BODY]


def reason_phrase(status: int) -> str:
    """The standard phrase of ``status`` ("HTTP error" for one HTTP does not define)."""
    if not 100 <= status <= 599:
        return "is not an HTTP status (100-599): no HTTP server answered; not retried"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"


def _describe(status: int, body: Any, secret: SecretKey | None) -> str:
    reason = reason_phrase(status)
    message = f"{status} {reason}"
    if isinstance(body, dict):
        parts = [
            clean(body[field], secret=secret)
            for field in ("title", "detail")
            if isinstance(body.get(field), str) and body[field] and body[field] != reason
        ]
        if parts:
            message += ": " + " - ".join(parts)
    elif isinstance(body, str):
        line = headline(body)
        if line.startswith(message):  # nginx: "502 Bad Gateway" twice is once too many
            line = line[len(message) :].lstrip(" :-")
        if line and line != reason:
            message += ": " + clean(line, secret=secret)
    return message


def status_error(
    status: int,
    headers: Mapping[str, str],
    raw_body: bytes,
    *,
    secret: SecretKey | None = None,
) -> APIStatusError:
    """The error for a non-2xx answer; ``secret`` (the request's key) is hidden wherever
    the server echoed it, whole or in part: message, ``.body``, ``.headers``."""
    body = _parse_body(raw_body, secret)
    request_id = request_id_from(headers, body, secret=secret)
    message = _describe(status, body, secret)
    if request_id:
        message += f" (request id {request_id})"
    return status_error_class(status)(
        message,
        status_code=status,
        request_id=request_id,
        headers=redact_headers(headers, secret),
        body=body,
        retry_after=parse_retry_after(headers),
    )
