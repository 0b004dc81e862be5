"""The asyncio core: every request apibricks makes starts here."""

from ._client import AsyncClient
from ._resources import AsyncInvoices

__all__ = ["AsyncClient", "AsyncInvoices"]
