"""apibricks: the Python SDK for the APIBricks Console REST API.

``AsyncClient`` is the asyncio core; ``Client`` is its generated blocking twin. Both
decode into the frozen attrs models ``Invoice`` and ``Organization`` and raise only
``APIBricksError`` subclasses.
"""

from ._async import AsyncClient, AsyncInvoices
from ._auth import APIKeyError
from ._converter import decode_invoices, dumps, structure_invoices, to_wire
from ._exceptions import (
    APIBricksError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    DecodeError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    RequestTimeoutError,
    ResponseTooLargeError,
    UnprocessableEntityError,
)
from ._models import Invoice, Organization
from ._outcome import OperationError, OrganizationInvoices, Outcome, PaidInvoicesReport, Progress
from ._sync import Client, Invoices
from ._version import __version__

__all__ = [
    "APIBricksError",
    "APIConnectionError",
    "APIKeyError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncInvoices",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "DecodeError",
    "InternalServerError",
    "Invoice",
    "Invoices",
    "NotFoundError",
    "OperationError",
    "Organization",
    "OrganizationInvoices",
    "Outcome",
    "PaidInvoicesReport",
    "PermissionDeniedError",
    "Progress",
    "RateLimitError",
    "RedirectError",
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "UnprocessableEntityError",
    "__version__",
    "decode_invoices",
    "dumps",
    "structure_invoices",
    "to_wire",
]
