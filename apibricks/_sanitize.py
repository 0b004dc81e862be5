"""Server-sent text is data, not output: hide our own key in it, escape it, cap it.

A ``detail`` may echo the request's key (whole, cut, URL-encoded, base64), a ``traceId``
may carry CR/LF to forge log lines, a title may hold ESC sequences for the reader's
terminal, and a 200 KB detail would flood a log. Everything a server said, and every URL
the client shows, passes through here before it reaches a message, a log line, a hook,
``.request_id``, ``.body`` or ``.headers``. The key is hidden first, then the text is cut:
an echo that straddles the cut leaves nothing behind.
"""

from __future__ import annotations

import base64
import functools
import unicodedata
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote, quote_plus

from multidict import CIMultiDict

from ._auth import SecretKey, key_hint

__all__ = ["MAX_SERVER_TEXT", "WINDOW", "Redactor", "clean", "redact", "redact_headers"]

MAX_SERVER_TEXT: Final = 300
# A run of this many characters of the key (or of one of its encodings) is an echo.
WINDOW: Final = 8
# Control, format (bidi overrides, zero-width), line and paragraph separators.
_UNSAFE: Final = frozenset({"Cc", "Cf", "Zl", "Zp"})
# ASCII case folding that keeps every index: a host name comes back lower-cased.
_FOLD: Final = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def _fold(text: str) -> str:
    return text.lower() if text.isascii() else text.translate(_FOLD)


def _base64_cores(raw: bytes) -> list[str]:
    """The base64 characters that depend on ``raw`` alone, at each of the 3 alignments
    ``raw`` can have inside a longer base64 text (standard and URL-safe alphabets)."""
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        first = -(-8 * offset // 6)  # the first character past the padding bytes' bits
        last = 8 * (offset + len(raw)) // 6  # characters made of the key's bits only
        core = encoded[first:last]
        cores += [core, core.translate(str.maketrans("+/", "-_"))]
    return cores


class Redactor:
    """Replaces every echo of one key in a text by the key's hint.

    An echo is any run of `WINDOW` or more consecutive characters of the key (the whole
    key when shorter), of its URL-encoded forms or of its base64 at any alignment, in
    either ASCII case. Built once per key (see `redactor`): the sets of the forms' windows
    and of their 4-character pieces, so a text costs a set lookup per 4 characters.
    """

    __slots__ = ("_grams", "_hint", "_size", "_windows")

    def __init__(self, secret: SecretKey) -> None:
        key = secret.reveal()
        self._hint = key_hint(secret)
        raw = key.encode("utf-8", "surrogatepass")
        forms = {key, quote(key, safe=""), quote_plus(key, safe="")}
        if len(key) >= WINDOW:
            forms.update(_base64_cores(raw))
            size = WINDOW
        else:  # too short for windows: the whole key and its whole encodings only
            forms.add(base64.b64encode(raw).decode("ascii").rstrip("="))
            size = len(key)
        windows: set[str] = set()
        for form in map(_fold, forms):
            if len(form) >= size:
                windows.update(form[i : i + size] for i in range(len(form) - size + 1))
        self._size = size
        self._windows = frozenset(windows)
        self._grams = frozenset(window[i : i + 4] for window in windows for i in range(5))

    def __repr__(self) -> str:
        return f"Redactor({self._hint!r})"

    def __call__(self, text: str) -> str:
        """``text`` with every echo of the key replaced by its hint."""
        while len(text) >= self._size:
            spans = self._echoes(_fold(text))
            if not spans:
                break
            text = self._replace(text, spans)
        return text

    def _echoes(self, folded: str) -> list[tuple[int, int]]:
        """Where ``folded`` holds an echo: merged ``(start, end)`` spans, in order."""
        size, windows = self._size, self._windows
        if size < WINDOW:  # a short key: its few whole forms
            starts = []
            for window in windows:
                at = folded.find(window)
                while at >= 0:
                    starts.append(at)
                    at = folded.find(window, at + 1)
            starts.sort()
        else:
            # Every window holds a 4-character piece starting at a multiple of 4: look up
            # those pieces (a quarter of the positions), then the windows around each hit.
            grams, last = self._grams, len(folded) - size
            hits = [at for at in range(0, len(folded) - 3, 4) if folded[at : at + 4] in grams]
            starts = sorted(
                {
                    start
                    for at in hits
                    for start in range(max(0, at - 3), min(at, last) + 1)
                    if folded[start : start + size] in windows
                }
            )
        spans: list[tuple[int, int]] = []
        for start in starts:
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], start + size)
            else:
                spans.append((start, start + size))
        return spans

    def _replace(self, text: str, spans: list[tuple[int, int]]) -> str:
        parts, done = [], 0
        for start, end in spans:
            parts += [text[done:start], self._hint]
            done = end
        parts.append(text[done:])
        return "".join(parts)


@functools.lru_cache(maxsize=1024)
def redactor(secret: SecretKey) -> Redactor:
    """The `Redactor` of ``secret``, built once (a fan-out's errors share it)."""
    return Redactor(secret)


def hide(text: str, secret: SecretKey | None) -> str:
    """``text`` with every echo of ``secret`` replaced by its hint (no escaping, no cut)."""
    return text if secret is None else redactor(secret)(text)


def _escape(char: str) -> str:
    if unicodedata.category(char) not in _UNSAFE:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: str, *, secret: SecretKey | None = None, limit: int = MAX_SERVER_TEXT) -> str:
    """``text`` safe for a message or log line: key hidden, then controls escaped, then cut."""
    text = hide(text, secret)
    if not text.isprintable():
        text = "".join(map(_escape, text))
    if len(text) > limit:
        text = f"{text[:limit]}…[{len(text) - limit:,} more characters cut]"
    return text


def redact(value: Any, secret: SecretKey | None) -> Any:
    """``value`` (parsed JSON) with every echo of ``secret`` (in keys and values, at any
    depth) replaced by its hint."""
    if secret is None:
        return value
    return _redact(value, redactor(secret))


def _redact(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, str):
        return redactor(value)
    if isinstance(value, dict):
        return {_redact(k, redactor): _redact(v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(item, redactor) for item in value]
    return value


def redact_headers(headers: Mapping[str, str], secret: SecretKey | None) -> CIMultiDict[str]:
    """A copy of ``headers`` (every value of repeated names kept) with the key hidden."""
    items = headers.items()
    return CIMultiDict((hide(name, secret), hide(value, secret)) for name, value in items)
