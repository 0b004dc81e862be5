"""A local stand-in for the APIBricks Console API, for testing code that calls it.

It speaks the wire contract in raw JSON (it does not use the SDK's client or models), so
it is an independent check of both. Any key starting with ``sk_sandbox_`` is accepted;
the text after the prefix (up to the first ``~``) names one organization whose data is
deterministic. Faults are chosen per request by items after the org name in the key, or
by the ``X-Sandbox-Fault`` header, e.g. ``sk_sandbox_acme~503x2`` (two 503s, then 200).

    from apibricks import sandbox

    async with sandbox.serve() as url:               # http://127.0.0.1:<free port>
        ...
    with sandbox.serve_in_thread() as url:           # from synchronous code
        ...
    sb = sandbox.Sandbox(invoices_per_org=25, latency=0.0)
    async with sb.serve() as url:
        ...
    sb.requests_for("sk_sandbox_acme~503x2"), sb.peak_in_flight, sb.last_headers
    sb = sandbox.Sandbox(rate_limit=50, burst=20, per_key_rate_limit=5)  # 429s, as nginx
    sb = sandbox.Sandbox(rate_limit=50, burst=20, limiter="nginx-nodelay")  # limit_req's count
    sb.limiter.refused, sb.limiter.refused_for(key)

Routes: ``GET /invoices/paid``; ``/redirect-same-origin`` and ``/redirect-other-origin``
answer 307 to ``/invoices/paid`` on this origin or on a second listener (another port).
Unknown paths get 404, other methods 405 (``Allow: GET``), unknown keys 401, all as
ASP.NET problem details. Every answer carries ``Request-Id``/``X-Request-Id``.

Fault grammar: ``sk_sandbox_<org>[~<item>...]``, ``<org>`` being ``[A-Za-z0-9._-]+``. The
``X-Sandbox-Fault`` header takes the same items (``~`` or ``,`` separated), added after the
key's. Only ``<org>`` picks the data, so ``sk_sandbox_acme`` and ``sk_sandbox_acme~503x2``
see the same organization. A trailing ``x<N>`` limits an item to the first N attempts;
without it the item applies to every attempt.

=====================  =====================================================================
``n<count>``           invoices in the response (overrides the server default; <= 100000)
``big<count>``         that many invoices, any number, made on the fly and sent chunked
``<status>``           an error answer with a problem+json body, any status 400-599
``<status>r<secs>``    ... with ``Retry-After: <secs>`` (429 alone means ``429r1``)
``<status>date[secs]`` ... with ``Retry-After`` as an HTTP-date ``secs`` (default 1) from now
``<status>bare``       ... with no ``Retry-After`` at all
``reset``              headers, half the body, then an abortive close (TCP RST)
``truncate``           headers, half the body, then a clean close (FIN): too few bytes
``disconnect``         half a status line, then an abortive close: no response at all (*)
``malformed``          200 whose body is cut-off JSON
``wrongtype``          200, valid JSON, but ``organization.creditBalance`` is a string
``redirect``           307 to ``/invoices/paid`` on the same origin
``redirectother``      307 to ``/invoices/paid`` on another origin (another port)
``slow[secs]``         wait ``secs`` (default 10) before answering
``latency<ms>``        wait ``ms`` milliseconds before answering
``aspnet``             timestamps as ASP.NET really writes them instead of RFC 3339 ``Z``: a
                       mix of ``Z``, ``+00:00`` and no offset, 0-7 fractional digits, and
                       ``0001-01-01T00:00:00`` for an unset ``pastDueSince`` (else ``null``)
=====================  =====================================================================

Timestamps are RFC 3339 ``date-time`` in UTC with ``Z`` unless ``aspnet`` is given; both
spellings encode the same instants.

Answers (everything but ``slow``/``latency``/``n``) are consumed in order: for
``503x2~429x1`` attempts 1-2 get 503, attempt 3 gets 429, later attempts succeed. A
delay with ``xN`` applies to attempts 1..N. Attempts are counted per exact key and
header value; ``Sandbox.reset_stats()`` starts them over. An unknown item is a 400.

(*) aiohttp's client resends an idempotent request once by itself when the connection
drops before a response, so one client attempt against ``disconnect`` is two attempts
here. ``reset`` and ``truncate`` fail while the body is read: one attempt each.
"""

from __future__ import annotations

import contextlib
import json
from importlib import resources
from typing import Any

from ._app import INVOICES_PATH, Sandbox, SeenRequest
from ._data import DEFAULT_INVOICES_PER_ORG, invoices_payload
from ._faults import FAULT_HEADER, KEY_PREFIX, FaultSyntaxError, parse

__all__ = [
    "DEFAULT_INVOICES_PER_ORG",
    "DEMO_KEY",
    "FAULT_HEADER",
    "INVOICES_PATH",
    "KEY_PREFIX",
    "FaultSyntaxError",
    "Sandbox",
    "SeenRequest",
    "make_invoices_payload",
    "openapi_spec",
    "serve",
    "serve_in_thread",
]

DEMO_KEY = "sk_sandbox_demo"


def make_invoices_payload(key: str = DEMO_KEY, n: int | None = None) -> bytes:
    """The exact 200 body the sandbox sends for ``key`` (its faults are ignored, ``aspnet`` kept).

    ``n`` defaults to the key's ``n<count>`` item, else ``DEFAULT_INVOICES_PER_ORG``.
    """
    parsed = parse(key)
    if parsed is None:
        raise ValueError(f"not a sandbox key (they start with {KEY_PREFIX!r})")
    org, scenario = parsed
    if n is None:
        n = DEFAULT_INVOICES_PER_ORG if scenario.invoices is None else scenario.invoices
    return invoices_payload(org, n, aspnet=scenario.aspnet)


def openapi_spec() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the Console API that the sandbox implements (a fresh copy).

    It ships inside the package, so contract tests need nothing outside the install.
    """
    text = resources.files(__name__).joinpath("openapi.json").read_text(encoding="utf-8")
    spec: dict[str, Any] = json.loads(text)
    return spec


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    invoices_per_org: int = DEFAULT_INVOICES_PER_ORG,
    latency: float = 0.0,
) -> contextlib.AbstractAsyncContextManager[str]:
    """``async with serve() as url``: a fresh Sandbox; use ``Sandbox`` to read its stats."""
    return Sandbox(invoices_per_org=invoices_per_org, latency=latency).serve(host, port)


def serve_in_thread(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    invoices_per_org: int = DEFAULT_INVOICES_PER_ORG,
    latency: float = 0.0,
) -> contextlib.AbstractContextManager[str]:
    """``with serve_in_thread() as url``: like ``serve()``, on a daemon thread."""
    return Sandbox(invoices_per_org=invoices_per_org, latency=latency).serve_in_thread(host, port)
