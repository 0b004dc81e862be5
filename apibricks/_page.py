"""What a non-JSON body says, in one line: a page's ``<title>`` (else its first line of
visible text), or plain text with its line breaks folded into spaces.

A captive portal's ``200 text/html``, nginx's ``502 Bad Gateway`` page or a CDN's ``403``
would otherwise reach a message as markup, CSS and CR/LF escapes. The one line is still
server text: callers pass it through `clean` (key hidden, controls escaped, capped).
"""

from __future__ import annotations

import html
import re
from typing import Final

__all__ = ["headline"]

_TITLE: Final = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_INVISIBLE: Final = re.compile(
    r"<(script|style|head|template)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL
)
_TAG: Final = re.compile(r"<[^>]*>")
_MARKUP: Final = re.compile(r"<(!doctype|html|head|body|title|div|p|h\d|center|pre)\b", re.I)
_SCAN: Final = 64 * 1024  # an error body is capped at that size already


def headline(text: str) -> str:
    """``text`` in one line, whitespace collapsed: a page's title or first visible line."""
    text = text[:_SCAN]
    if not _MARKUP.search(text):
        return _one_line(text)
    title = _TITLE.search(text)
    if title is not None:
        line = _one_line(html.unescape(_TAG.sub(" ", title.group(1))))
        if line:
            return line
    for line in html.unescape(_TAG.sub("\n", _INVISIBLE.sub("\n", text))).splitlines():
        line = _one_line(line)
        if line:
            return line
    return ""


def _one_line(text: str) -> str:
    return " ".join(text.split())
