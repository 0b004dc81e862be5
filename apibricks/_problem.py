"""Turning a non-2xx answer into the right `APIStatusError`.

ASP.NET answers errors with RFC 9457 problem details (``title``, ``detail``,
``traceId``); anything else (an HTML page from a proxy, an empty body) still gives a
useful message built from the status line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from ._exceptions import APIStatusError, RateLimitError, status_error_class
from ._retry import parse_retry_after

__all__ = ["REQUEST_ID_HEADERS", "request_id_from", "status_error"]

REQUEST_ID_HEADERS = ("Request-Id", "X-Request-Id", "X-Correlation-Id", "TraceParent")
_MAX_TEXT_BODY = 2000


def request_id_from(headers: Mapping[str, str], body: Any = None) -> str | None:
    if isinstance(body, dict):
        trace_id = body.get("traceId")
        if isinstance(trace_id, str) and trace_id:
            return trace_id
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: a hostile, deeply nested body
        return text[:_MAX_TEXT_BODY]


def _describe(status: int, body: Any) -> str:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "HTTP error"
    message = f"{status} {reason}"
    if isinstance(body, dict):
        parts = [
            str(body[field])
            for field in ("title", "detail")
            if isinstance(body.get(field), str) and body[field] and body[field] != reason
        ]
        if parts:
            message += ": " + " - ".join(parts)
    elif isinstance(body, str) and body.strip():
        message += ": " + body.strip()[:200]
    return message


def status_error(status: int, headers: Mapping[str, str], raw_body: bytes) -> APIStatusError:
    body = _parse_body(raw_body)
    request_id = request_id_from(headers, body)
    message = _describe(status, body)
    if request_id:
        message += f" (request id {request_id})"
    cls = status_error_class(status)
    kwargs: dict[str, Any] = {
        "status_code": status,
        "request_id": request_id,
        "headers": headers,
        "body": body,
    }
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=parse_retry_after(headers), **kwargs)
    return cls(message, **kwargs)
