"""API resources, one class per path family, reached as client attributes (``client.invoices``).

A resource is given its client's ``_get`` (the path in, the reply out), not the client:
it needs nothing else of it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .._converter import decode_invoices
from .._models import Invoice
from .._problem import request_id_from
from .._response import APIResponse

if TYPE_CHECKING:
    from ._transport import Reply

__all__ = ["AsyncInvoices", "AsyncInvoicesWithRawResponse"]

Get = Callable[[str], Awaitable["Reply"]]


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
        reply = await self._get("/invoices/paid")
        return decode_invoices(reply.body)


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
            request_id=request_id_from(reply.headers),
            url=reply.url,
            elapsed=reply.elapsed,
            retries_taken=reply.retries,
            content=reply.body,
            parser=decode_invoices,
        )
