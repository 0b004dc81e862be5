"""apibricks: the Python SDK for the APIBricks Console REST API.

``AsyncClient`` is the asyncio core; ``Client`` is its generated blocking twin. Both
decode into the frozen attrs models ``Invoice`` and ``Organization`` and raise only
``APIBricksError`` subclasses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._logging import configure_from_env as _configure_logging_from_env
from ._version import __version__

if TYPE_CHECKING:  # what mypy and IDEs see; at run time `__getattr__` imports on first use
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
        CertificateError,
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
        SyncCallError,
        UnprocessableEntityError,
    )
    from ._export import to_arrow, to_pandas
    from ._hooks import HookEvent
    from ._models import Invoice, Organization
    from ._outcome import (
        OperationError,
        OrganizationInvoices,
        Outcome,
        PaidInvoicesReport,
        Progress,
    )
    from ._response import APIResponse
    from ._settings import NOT_GIVEN, ClientSettings, NotGiven
    from ._sync import Client, Invoices, InvoicesWithRawResponse

# Module -> the public names it defines, imported on first access (PEP 562): `import
# apibricks` stays light (no aiohttp, cattrs, pyarrow or pandas) until a name is used.
_MODULES: dict[str, tuple[str, ...]] = {
    "._async": ("AsyncClient", "AsyncInvoices"),
    "._async._resources": ("AsyncInvoicesWithRawResponse",),
    "._auth": ("APIKeyError",),
    "._converter": ("decode_invoices", "dumps", "structure_invoices", "to_wire"),
    "._exceptions": (
        "APIBricksError",
        "APIConnectionError",
        "APIStatusError",
        "APITimeoutError",
        "AuthenticationError",
        "BadRequestError",
        "CertificateError",
        "ConfigurationError",
        "ConflictError",
        "DecodeError",
        "InternalServerError",
        "NotFoundError",
        "PermissionDeniedError",
        "RateLimitError",
        "RedirectError",
        "RequestTimeoutError",
        "ResponseTooLargeError",
        "SyncCallError",
        "UnprocessableEntityError",
    ),
    "._export": ("to_arrow", "to_pandas"),
    "._hooks": ("HookEvent",),
    "._models": ("Invoice", "Organization"),
    "._outcome": (
        "OperationError",
        "OrganizationInvoices",
        "Outcome",
        "PaidInvoicesReport",
        "Progress",
    ),
    "._response": ("APIResponse",),
    "._settings": ("NOT_GIVEN", "ClientSettings", "NotGiven"),
    "._sync": ("Client", "Invoices", "InvoicesWithRawResponse"),
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}
# The documented submodules, also imported on first access (`apibricks.sandbox`...).
_SUBMODULES = ("cli", "dask", "pytest_plugin", "sandbox")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)  # which sets it as an attribute
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    """The public API only (what completion offers): not this module's own imports."""
    return sorted({*__all__, *_SUBMODULES})


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
    "CertificateError",
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
    "SyncCallError",
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
