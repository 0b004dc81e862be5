"""API resources, one class per path family, reached as client attributes (``client.invoices``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._converter import decode_invoices
from .._models import Invoice

if TYPE_CHECKING:
    from ._client import AsyncClient

__all__ = ["AsyncInvoices"]


class AsyncInvoices:
    """``/invoices``: the invoices of the organization that owns the client's API key."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list_paid(self) -> list[Invoice]:
        """All paid invoices of the organization (``GET /invoices/paid``).

        Every invoice carries the organization; within one response they share a single
        `Organization` instance.
        """
        body = await self._client._get("/invoices/paid")
        return decode_invoices(body)
