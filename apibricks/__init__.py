"""apibricks: the Python SDK for the APIBricks Console REST API.

``AsyncClient`` is the asyncio core; ``Client`` is its generated blocking twin. Both
decode into the frozen attrs models ``Invoice`` and ``Organization`` and raise only
``APIBricksError`` subclasses.
"""

import importlib
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from ._export import to_arrow, to_pandas

# Loaded on first use, so `import apibricks` never imports pyarrow or pandas.
_LAZY = {"to_arrow": "._export", "to_pandas": "._export"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "to_arrow",
    "to_pandas",
    "to_wire",
]

_configure_logging_from_env()  # APIBRICKS_LOG=info|debug, as OPENAI_LOG
