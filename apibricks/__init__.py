"""apibricks: the Python SDK for the APIBricks Console REST API.

``AsyncClient`` is the asyncio core; ``Client`` is its generated blocking twin. Both
decode into the frozen attrs models ``Invoice`` and ``Organization`` and raise only
``APIBricksError`` subclasses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # what mypy and IDEs see; at run time `__getattr__` imports on first use
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
        RequestTimeoutError,
        ResponseTooLargeError,
        UnprocessableEntityError,
    )
    from ._models import Invoice, Organization
    from ._outcome import (
        OperationError,
        OrganizationInvoices,
        Outcome,
        PaidInvoicesReport,
        Progress,
    )
    from ._sync import Client, Invoices

# Public name -> the module defining it, imported on first access (PEP 562): `import
# apibricks` stays light (no aiohttp, no cattrs) until a client, model or decoder is used.
_LAZY: dict[str, str] = {
    "AsyncClient": "._async",
    "AsyncInvoices": "._async",
    "APIKeyError": "._auth",
    "decode_invoices": "._converter",
    "dumps": "._converter",
    "structure_invoices": "._converter",
    "to_wire": "._converter",
    "APIBricksError": "._exceptions",
    "APIConnectionError": "._exceptions",
    "APIStatusError": "._exceptions",
    "APITimeoutError": "._exceptions",
    "AuthenticationError": "._exceptions",
    "BadRequestError": "._exceptions",
    "ConfigurationError": "._exceptions",
    "ConflictError": "._exceptions",
    "DecodeError": "._exceptions",
    "InternalServerError": "._exceptions",
    "NotFoundError": "._exceptions",
    "PermissionDeniedError": "._exceptions",
    "RateLimitError": "._exceptions",
    "RequestTimeoutError": "._exceptions",
    "ResponseTooLargeError": "._exceptions",
    "UnprocessableEntityError": "._exceptions",
    "Invoice": "._models",
    "Organization": "._models",
    "OperationError": "._outcome",
    "OrganizationInvoices": "._outcome",
    "Outcome": "._outcome",
    "PaidInvoicesReport": "._outcome",
    "Progress": "._outcome",
    "Client": "._sync",
    "Invoices": "._sync",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "UnprocessableEntityError",
    "__version__",
    "decode_invoices",
    "dumps",
    "structure_invoices",
    "to_wire",
]
