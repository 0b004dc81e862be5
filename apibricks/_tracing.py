"""OpenTelemetry spans, when the ``apibricks[otel]`` extra is installed; else nothing.

One span per call (``GET /invoices/paid``, kind INTERNAL) with one child per attempt
(``GET``, kind CLIENT) carrying the HTTP client semantic-convention attributes. The
``opentelemetry`` import happens on the first call, never at ``import apibricks``; when
it is missing every helper here is a no-op costing one ``None`` check.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final

from ._urls import safe_url
from ._version import __version__

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer
    from yarl import URL

__all__ = ["call_span", "record_outcome", "tracer"]

_UNSET: Final = object()
_tracer: Any = _UNSET
_placeholders: tuple[type, ...] = ()
_provider: Any = None  # opentelemetry.trace.get_tracer_provider, once imported
_NO_SPAN: Final = contextlib.nullcontext(None)  # reusable: the cost of no tracing


def tracer() -> Tracer | None:
    """apibricks' tracer; None without opentelemetry-api or while no SDK provider is set.

    With the API alone every span would be a no-op costing ~25 µs; checking that the
    global provider is still the API's placeholder costs well under 1 µs, and a provider
    set later is picked up by the next call.
    """
    global _tracer, _placeholders, _provider
    if _tracer is _UNSET:
        try:
            from opentelemetry import trace
        except ImportError:
            _tracer = None
        else:
            _placeholders = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
            _provider = trace.get_tracer_provider
            _tracer = trace.get_tracer("apibricks", __version__)
    if _tracer is None or isinstance(_provider(), _placeholders):
        return None
    return _tracer  # type: ignore[no-any-return]


def call_span(
    active: Tracer | None, name: str, *, client: bool, url: URL, resend: int = 0
) -> contextlib.AbstractContextManager[Span | None]:
    """A span around a call (``client=False``) or one attempt (``client=True``).

    ``active`` is `tracer()`, asked once per call; without one nothing else is computed.
    """
    if active is None:
        return _NO_SPAN
    from opentelemetry.trace import SpanKind

    attributes: dict[str, Any] = {"http.request.method": "GET", "url.full": safe_url(url)}
    if url.host:
        attributes["server.address"] = url.host
    if url.port:
        attributes["server.port"] = url.port
    if resend:
        attributes["http.request.resend_count"] = resend
    return active.start_as_current_span(
        name,
        kind=SpanKind.CLIENT if client else SpanKind.INTERNAL,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    )


def record_outcome(
    span: Span | None,
    *,
    status: int | None,
    error: BaseException | None,
    resend: int | None = None,
) -> None:
    """Status code, ``error.type`` and the span status, per the semantic conventions."""
    if span is None:
        return
    from opentelemetry.trace import StatusCode

    if status is not None:
        span.set_attribute("http.response.status_code", status)
    if resend:
        span.set_attribute("http.request.resend_count", resend)
    if error is not None or (status is not None and status >= 400):
        error_type = str(status) if status is not None and status >= 400 else None
        if error is not None and (error_type is None or status is None):
            error_type = type(error).__name__
        span.set_attribute("error.type", error_type or "_OTHER")
        span.set_status(StatusCode.ERROR, error_type)
