"""The one exception hierarchy every failure in apibricks is reported through.

Callers catch `APIBricksError` (or a branch of it) and never need to know that aiohttp,
json, cattrs or asyncio sat underneath: the original exception stays as ``__cause__``.
No message built here ever contains the API key.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multidict import CIMultiDictProxy

__all__ = [
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
    "status_error_class",
]


class APIBricksError(Exception):
    """Base of every error apibricks raises.

    Every subclass survives ``pickle`` and ``copy`` with its type and attributes (work
    moves between processes: multiprocessing, Dask, Celery): rebuilt from its state, not
    by calling ``__init__`` again, so keyword-only arguments and derived messages round-
    trip as they are. ``__cause__`` travels too when it can be pickled itself.
    """

    message: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        state = _portable(self.__dict__)
        cause = self.__cause__
        if cause is not None and _picklable(cause):
            state["__cause__"] = cause
        return _restore, (type(self), self.args, state)

    def __copy__(self) -> APIBricksError:
        state = _portable(self.__dict__)
        state["__cause__"] = self.__cause__
        return _restore(type(self), self.args, state)

    def __deepcopy__(self, memo: dict[int, Any]) -> APIBricksError:
        state = copy.deepcopy(_portable(self.__dict__), memo)
        try:
            state["__cause__"] = copy.deepcopy(self.__cause__, memo)
        except Exception:  # an uncopyable cause is shared rather than lost
            state["__cause__"] = self.__cause__
        return _restore(type(self), copy.deepcopy(self.args, memo), state)


def _portable(attributes: dict[str, Any]) -> dict[str, Any]:
    """Instance state with header proxies (unpicklable) as plain ``(name, value)`` pairs."""
    multidict = sys.modules.get("multidict")  # not loaded: no proxy to convert
    proxy = multidict.CIMultiDictProxy if multidict is not None else ()
    return {
        name: _HeaderPairs(value.items()) if isinstance(value, proxy) else value
        for name, value in attributes.items()
    }


class _HeaderPairs(list[tuple[str, str]]):
    """Headers in transit; `_restore` turns them back into a case-insensitive proxy."""


def _header_proxy(headers: Mapping[str, str] | list[tuple[str, str]]) -> CIMultiDictProxy[str]:
    # multidict loads with aiohttp, which every call that raises this has loaded already;
    # `apibricks --help` imports this module without either.
    from multidict import CIMultiDict, CIMultiDictProxy

    return CIMultiDictProxy(CIMultiDict(headers))


def _picklable(value: object) -> bool:
    import pickle  # here: `apibricks --help` imports this module and never pickles

    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def _restore(
    cls: type[APIBricksError], args: tuple[Any, ...], state: dict[str, Any]
) -> APIBricksError:
    error = cls.__new__(cls, *args)
    error.args = args
    cause = state.pop("__cause__", None)
    for name, value in state.items():
        if isinstance(value, _HeaderPairs):
            value = _header_proxy(value)
        setattr(error, name, value)
    if cause is not None:
        error.__cause__ = cause
    return error


class ConfigurationError(APIBricksError, ValueError):
    """A client setting is out of range or of the wrong type; raised before any I/O.

    The message names the keyword and what it accepts.
    """


class ResponseTooLargeError(APIBricksError):
    """The (decompressed) response body crossed ``max_response_bytes``; never retried."""


class SyncCallError(APIBricksError, RuntimeError):
    """A sync `Client` call that cannot run where it was made; nothing was sent.

    Made on the thread running the client's loop in the middle of one of its calls (a
    signal handler that interrupted the call, a callback the call runs), it would wait for
    itself forever; made at interpreter exit where the thread it needs cannot start. The
    message says which. Also a ``RuntimeError``, as before it had its own class.
    """


class APIConnectionError(APIBricksError):
    """The request never got an HTTP answer: refused, reset, DNS, TLS, a cut body.

    ``retryable`` is False for failures that another attempt cannot fix (a bad
    certificate, an invalid URL).
    """

    retryable: bool

    def __init__(self, message: str = "Connection error.", *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class CertificateError(APIConnectionError):
    """The server's TLS certificate did not verify against the client's trust; never retried.

    The message says why and how to pass a CA bundle (``ssl=``, ``APIBRICKS_CA_BUNDLE``,
    ``--ca-bundle``) or use the system's trust store (``ssl="system"``).
    """

    def __init__(
        self, message: str = "The server's certificate was not trusted.", *, retryable: bool = False
    ) -> None:
        super().__init__(message, retryable=retryable)


class APITimeoutError(APIConnectionError):
    """An attempt took longer than the client's ``timeout``."""

    def __init__(self, message: str = "Request timed out.") -> None:
        super().__init__(message)


class DecodeError(APIBricksError):
    """A 2xx body that is not the documented shape.

    ``path`` locates the offending value (``[3].organization.creditBalance``), so a
    report to the API's owners can point at the exact field.
    """

    path: str

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class APIStatusError(APIBricksError):
    """The server answered with a non-2xx status.

    ``retry_after`` is the server's requested wait in seconds (``Retry-After``), on any
    status that carried a usable one; None otherwise.
    """

    status_code: int
    request_id: str | None
    headers: Mapping[str, str]
    body: Any
    retry_after: float | None

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id
        # Case-insensitive, like HTTP: error.headers["retry-after"] works.
        self.headers = _header_proxy(headers or {})
        self.body = body
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status_code={self.status_code}, "
            f"request_id={self.request_id!r})"
        )


class RedirectError(APIStatusError):
    """A 3xx that cannot be followed: a bad or missing ``Location``, another origin, a
    loop, or too many hops. Never retried: the next attempt would meet the same answer."""


class BadRequestError(APIStatusError):
    """400."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, unknown or revoked."""


class PermissionDeniedError(APIStatusError):
    """403."""


class NotFoundError(APIStatusError):
    """404."""


class RequestTimeoutError(APIStatusError):
    """408: the server gave up waiting for the request (retried)."""


class ConflictError(APIStatusError):
    """409 (retried: ASP.NET reports transient concurrency conflicts this way)."""


class UnprocessableEntityError(APIStatusError):
    """422."""


class RateLimitError(APIStatusError):
    """429. ``retry_after`` is the server's requested wait in seconds, when it gave one."""


class InternalServerError(APIStatusError):
    """Any 5xx."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The most specific error class for an HTTP status (outside 100-599: the base class)."""
    if 500 <= status <= 599:
        return InternalServerError
    return _BY_STATUS.get(status, APIStatusError)
