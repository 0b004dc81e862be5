"""API resources, one class per path family, reached as client attributes (``client.invoices``).

A resource is given its client's ``_get`` (the path in, the reply out), not the client:
it needs nothing else of it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Protocol

import aiohttp

from .._decoded import InvoicesParser, hidden, invoices_of
from .._exceptions import APIBricksError, APIConnectionError, DecodeError
from .._invoice_stream import DEFAULT_MAX_INVOICE_BYTES, InvoiceStream
from .._models import Invoice
from .._problem import request_id_from
from .._release import release
from .._response import APIResponse
from ._streaming import flatten

if TYPE_CHECKING:
    from ._transport import Reply

__all__ = ["AsyncInvoices", "AsyncInvoicesWithRawResponse"]


class Get(Protocol):
    """The view's ``_get``: a path in, its reply out (``streamed``: the body left unread)."""

    def __call__(self, path: str, *, streamed: bool = ...) -> Awaitable[Reply]: ...


class AsyncInvoices:
    """``/invoices``: the invoices of the organization that owns the client's API key."""

    __slots__ = ("_get", "with_raw_response")

    with_raw_response: AsyncInvoicesWithRawResponse

    def __init__(self, get: Get) -> None:
        self._get = get
        self.with_raw_response = AsyncInvoicesWithRawResponse(get)

    async def list_paid(self) -> list[Invoice]:
        """All paid invoices of the organization (``GET /invoices/paid``).

        Every invoice carries the organization; within one response they share a single
        `Organization` instance.
        """
        # No local holds the reply: a failed decode leaves no frame keeping the body.
        return invoices_of(await self._get("/invoices/paid"))

    def iter_paid(
        self, *, max_invoice_bytes: int | None = DEFAULT_MAX_INVOICE_BYTES
    ) -> AsyncIterator[Invoice]:
        """The same invoices as `list_paid`, each as soon as its bytes have arrived.

        Memory stays flat however large the organization: ``max_response_bytes`` does not
        apply, ``max_invoice_bytes`` bounds any single invoice instead. ``timeout`` bounds
        connecting and each wait for more bytes, not the whole body. Failures before the
        body starts are retried as for `list_paid`; once invoices have been yielded a
        failure is raised, never retried silently (you already hold those invoices).
        Leaving the loop early closes the connection.
        """
        return flatten(self._paid_runs(max_invoice_bytes))

    async def _paid_runs(
        self, max_invoice_bytes: int | None
    ) -> AsyncGenerator[list[Invoice], None]:
        """The invoices of each read of the body, in order (`iter_paid` flattens them)."""
        reply = await self._get("/invoices/paid", streamed=True)
        body = reply.stream
        assert body is not None
        stream = InvoiceStream(max_invoice_bytes)
        chunk = b""
        try:
            try:
                async for chunk in body.chunks():
                    if invoices := stream.feed(chunk):
                        yield invoices
                rest = stream.finish()
            except DecodeError as exc:  # it may quote a value: an echo of the key hidden
                raise hidden(exc, reply.secret) from None
            except (aiohttp.ClientError, OSError) as exc:
                raise APIConnectionError(
                    f"The connection was lost after {stream.count:,} invoices of the "
                    f"streamed body ({type(exc).__name__}); those stay valid."
                ) from None
        except APIBricksError as error:  # the error keeps what it shows, not the bytes read
            release(error)
            del stream, chunk, reply  # this frame too: the error's traceback keeps it
            raise
        finally:
            body.close()  # at the end, or early: an unread rest is never reused
        yield rest


class AsyncInvoicesWithRawResponse:
    """The same calls as `AsyncInvoices`, returning the `APIResponse` (status, headers...)."""

    __slots__ = ("_get",)

    def __init__(self, get: Get) -> None:
        self._get = get

    async def list_paid(self) -> APIResponse[list[Invoice]]:
        """``GET /invoices/paid``; ``.parse()`` gives what ``invoices.list_paid()`` returns."""
        reply = await self._get("/invoices/paid")
        return APIResponse(
            status_code=reply.status,
            headers=reply.headers,
            request_id=request_id_from(reply.headers, secret=reply.secret),
            url=reply.url,
            elapsed=reply.elapsed,
            retries_taken=reply.retries,
            content=reply.body,
            parser=InvoicesParser(reply.status, reply.headers, reply.secret),
        )
