"""API key handling: validated once, never printed.

The key travels as the raw ``Authorization`` header value, so a CR or LF in it would
let a caller smuggle headers; it is refused before any I/O.
"""

from __future__ import annotations

import os
import typing

from ._exceptions import APIBricksError

__all__ = [
    "API_KEY_ENV",
    "APIKeyError",
    "SecretKey",
    "hide_key",
    "key_hint",
    "resolve_api_key",
    "secret_key",
    "validate_api_key",
]

API_KEY_ENV = "APIBRICKS_API_KEY"


class APIKeyError(APIBricksError, ValueError):
    """The API key is missing, empty or unusable; raised before anything is sent."""


@typing.final
class SecretKey:
    """An API key that shows only as its hint: in ``repr``, ``str`` and crash reports.

    Deliberately not a ``str``: reporters such as Sentry serialize strings (subclasses
    included) by value and everything else by ``repr``. The raw text comes out only
    through `reveal`, at the moment a header is built.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | SecretKey) -> None:
        # Never raises: callers wrap first and check second, so no frame of ours holds
        # the raw key when a check fails.
        self._value: str = value._value if isinstance(value, SecretKey) else value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"SecretKey({key_hint(self._value)!r})"

    def __str__(self) -> str:
        return key_hint(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretKey):
            return NotImplemented
        return self._value == other._value

    def __hash__(self) -> int:
        return hash((SecretKey, self._value))

    def __reduce__(self) -> tuple[type[SecretKey], tuple[str]]:
        return SecretKey, (self._value,)


@typing.overload
def hide_key(key: str | SecretKey) -> SecretKey: ...
@typing.overload
def hide_key(key: None) -> None: ...
def hide_key(key: str | SecretKey | None) -> SecretKey | None:
    """``key`` wrapped (unchecked, never raising), so a caller can drop the raw name at once."""
    if key is None or isinstance(key, SecretKey):  # immutable: no need for a copy
        return key
    return SecretKey(key)


def _check(secret: SecretKey) -> SecretKey:
    """``secret`` if its key can be sent as a header value, else `APIKeyError`."""
    # Read through the object, never into a local: a failing check's frame holds no key.
    if not isinstance(secret._value, str):
        raise APIKeyError(f"The API key must be a str, not {type(secret._value).__name__}.")
    if not secret._value.strip():
        raise APIKeyError("The API key is empty.")
    if "\r" in secret._value or "\n" in secret._value:
        raise APIKeyError("The API key contains a line break (CR or LF) and was refused.")
    if not secret._value.isprintable():
        raise APIKeyError("The API key contains non-printable characters and was refused.")
    return secret


def secret_key(key: str | SecretKey) -> SecretKey:
    """``key`` wrapped and checked: `APIKeyError` if it cannot be sent as a header value."""
    secret = hide_key(key)
    del key  # from here on, this frame's locals show only the hint
    return _check(secret)


def validate_api_key(key: str) -> str:
    """``key`` if it can be sent as a header value, else `APIKeyError` (for plain-str users)."""
    secret = SecretKey(key)
    del key
    return _check(secret).reveal()


def resolve_api_key(explicit: str | SecretKey | None) -> SecretKey | None:
    """The explicit key, else ``$APIBRICKS_API_KEY``, checked; None when neither is set."""
    if explicit is not None:
        return secret_key(explicit)
    from_env = os.environ.get(API_KEY_ENV)
    return None if from_env is None else secret_key(SecretKey(from_env))


def missing_key_error() -> APIKeyError:
    return APIKeyError(
        f"No API key: pass api_key=... to the client, call client.with_api_key(key), "
        f"or set the {API_KEY_ENV} environment variable."
    )


def key_hint(key: str | SecretKey) -> str:
    """A short, safe label for a key in reprs and reports: its tail, never the whole."""
    if isinstance(key, SecretKey):
        key = key.reveal()
    if not isinstance(key, str):
        return "…"
    tail = key[-4:] if len(key) >= 12 else ""
    return f"…{tail}" if tail else "…"
