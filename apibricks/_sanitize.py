"""Server-sent text is data, not output: escape it, cap it, and hide our own key in it.

A ``detail`` may echo the request's key, a ``traceId`` may carry CR/LF to forge log
lines, a title may hold ESC sequences for the reader's terminal, and a 200 KB detail
would flood a log. Everything a server said passes through here before it reaches a
message, a log line, ``.request_id``; ``.body`` and ``.headers`` keep the server's data
as sent, except that the request's key becomes its hint.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any, Final

from multidict import CIMultiDict

from ._auth import SecretKey, key_hint

__all__ = ["MAX_SERVER_TEXT", "clean", "redact", "redact_headers"]

MAX_SERVER_TEXT: Final = 300
# Control, format (bidi overrides, zero-width), line and paragraph separators.
_UNSAFE: Final = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _escape(char: str) -> str:
    if unicodedata.category(char) not in _UNSAFE:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: str, *, secret: SecretKey | None = None, limit: int = MAX_SERVER_TEXT) -> str:
    """``text`` safe for a message or log line: key hidden, controls escaped, capped."""
    if secret is not None and secret.reveal() in text:
        text = text.replace(secret.reveal(), key_hint(secret))
    if not text.isprintable():
        text = "".join(map(_escape, text))
    if len(text) > limit:
        text = f"{text[:limit]}…[{len(text) - limit:,} more characters cut]"
    return text


def redact(value: Any, secret: SecretKey | None) -> Any:
    """``value`` (parsed JSON) with every occurrence of ``secret`` replaced by its hint."""
    if secret is None:
        return value
    if isinstance(value, str):
        return value.replace(secret.reveal(), key_hint(secret))
    if isinstance(value, dict):
        return {redact(k, secret): redact(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item, secret) for item in value]
    return value


def redact_headers(headers: Mapping[str, str], secret: SecretKey | None) -> CIMultiDict[str]:
    """A copy of ``headers`` (every value of repeated names kept) with the key hidden."""
    items = headers.items()
    return CIMultiDict((redact(name, secret), redact(value, secret)) for name, value in items)
