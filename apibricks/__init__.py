"""apibricks: the Python SDK for the APIBricks Console REST API.

``AsyncClient`` is the asyncio core; ``Client`` is its generated blocking twin. Both
decode into the frozen attrs models ``Invoice`` and ``Organization`` and raise only
``APIBricksError`` subclasses.
"""

from ._async import AsyncClient, AsyncInvoices
from ._async._resources import AsyncInvoicesWithRawResponse
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
from ._hooks import HookEvent
from ._logging import configure_from_env as _configure_logging_from_env
from ._models import Invoice, Organization
from ._outcome import OperationError, OrganizationInvoices, Outcome, PaidInvoicesReport, Progress
from ._response import APIResponse
from ._settings import NOT_GIVEN, ClientSettings, NotGiven
from ._sync import Client, Invoices, InvoicesWithRawResponse
from ._version import __version__

__all__ = [
    "NOT_GIVEN",
    "APIBricksError",
    "APIConnectionError",
    "APIKeyError",
    "APIResponse",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncInvoices",
    "AsyncInvoicesWithRawResponse",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ClientSettings",
    "ConfigurationError",
    "ConflictError",
    "DecodeError",
    "HookEvent",
    "InternalServerError",
    "Invoice",
    "Invoices",
    "InvoicesWithRawResponse",
    "NotFoundError",
    "NotGiven",
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

_configure_logging_from_env()  # APIBRICKS_LOG=info|debug, as OPENAI_LOG
