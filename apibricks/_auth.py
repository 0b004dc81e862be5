"""API key handling: validated once, never printed.

The key travels as the raw ``Authorization`` header value, so a CR or LF in it would
let a caller smuggle headers; it is refused before any I/O.
"""

from __future__ import annotations

import os

from ._exceptions import APIBricksError

__all__ = [
    "API_KEY_ENV",
    "APIKeyError",
    "SecretKey",
    "key_hint",
    "resolve_api_key",
    "validate_api_key",
]

API_KEY_ENV = "APIBRICKS_API_KEY"


class APIKeyError(APIBricksError, ValueError):
    """The API key is missing, empty or unusable; raised before anything is sent."""


class SecretKey(str):
    """A key that sends as itself but shows as a hint in any repr, traceback locals included."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(key_hint(self))


def validate_api_key(key: str) -> str:
    """``key`` as a `SecretKey` if it can be sent as a header value, else `APIKeyError`."""
    if not isinstance(key, str):
        raise APIKeyError(f"The API key must be a str, not {type(key).__name__}.")
    if not key.strip():
        raise APIKeyError("The API key is empty.")
    if "\r" in key or "\n" in key:
        raise APIKeyError("The API key contains a line break (CR or LF) and was refused.")
    if not key.isprintable():
        raise APIKeyError("The API key contains non-printable characters and was refused.")
    return SecretKey(key)


def resolve_api_key(explicit: str | None) -> str | None:
    """The explicit key, else ``$APIBRICKS_API_KEY``, validated; None when neither is set."""
    key = explicit if explicit is not None else os.environ.get(API_KEY_ENV)
    return None if key is None else validate_api_key(key)


def missing_key_error() -> APIKeyError:
    return APIKeyError(
        f"No API key: pass api_key=... to the client, call client.with_api_key(key), "
        f"or set the {API_KEY_ENV} environment variable."
    )


def key_hint(key: str) -> str:
    """A short, safe label for a key in reprs and reports: its tail, never the whole."""
    tail = key[-4:] if len(key) >= 12 else ""
    return f"…{tail}" if tail else "…"
