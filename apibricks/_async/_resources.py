"""API resources, one class per path family, reached as client attributes (``client.invoices``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._decoded import InvoicesParser, invoices_of
from .._models import Invoice
from .._problem import request_id_from
from .._response import APIResponse

if TYPE_CHECKING:
    from ._client import AsyncClient

__all__ = ["AsyncInvoices", "AsyncInvoicesWithRawResponse"]


class AsyncInvoices:
    """``/invoices``: the invoices of the organization that owns the client's API key."""

    __slots__ = ("_client", "with_raw_response")

    with_raw_response: AsyncInvoicesWithRawResponse

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self.with_raw_response = AsyncInvoicesWithRawResponse(client)

    async def list_paid(self) -> list[Invoice]:
        """All paid invoices of the organization (``GET /invoices/paid``).

        Every invoice carries the organization; within one response they share a single
        `Organization` instance.
        """
        # No local holds the reply: a failed decode leaves no frame keeping the body.
        return invoices_of(await self._client._get("/invoices/paid"), self._client._api_key)


class AsyncInvoicesWithRawResponse:
    """The same calls as `AsyncInvoices`, returning the `APIResponse` (status, headers...)."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list_paid(self) -> APIResponse[list[Invoice]]:
        """``GET /invoices/paid``; ``.parse()`` gives what ``invoices.list_paid()`` returns."""
        reply = await self._client._get("/invoices/paid")
        return APIResponse(
            status_code=reply.status,
            headers=reply.headers,
            request_id=request_id_from(reply.headers, secret=self._client._api_key),
            url=reply.url,
            elapsed=reply.elapsed,
            retries_taken=reply.retries,
            content=reply.body,
            parser=InvoicesParser(reply.status, reply.headers, self._client._api_key),
        )
