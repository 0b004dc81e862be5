"""Cutting a JSON array that arrives in chunks into runs of whole elements.

``GET /invoices/paid`` answers one JSON array, however long the organization's history.
To decode invoices as their bytes arrive, the bytes received so far are cut after the last
element known to be complete, and that run, wrapped in ``[`` ``]``, goes to the same
decoder as a whole body. Where to cut is decided by a parser, not by counting braces in
Python: a candidate is a comma between ``}`` and ``{``, and the run up to it parses as a
JSON array only when the comma sits between two elements (one inside a string or a
nested array leaves a string or a bracket unclosed), so the decoder itself confirms the
cut. Once a candidate is refused (elements holding arrays of objects), an exact scanner
that tracks strings and depth decides the cuts of that body, resuming where it stopped:
linear time either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Final, Generic, TypeVar

import orjson

__all__ = ["ArrayCutter", "ElementTooLargeError"]

T = TypeVar("T")

_WHITESPACE: Final = b" \t\r\n"
_LOOK: Final = 512  # commas looked at from the end before the exact scanner decides
# One token of the exact scanner: a string (closed when group 1 matched) or a structural byte.
_TOKEN: Final = re.compile(rb'"(?:[^"\\]|\\.)*(")?|[\[\]{},]', re.DOTALL)


class ElementTooLargeError(ValueError):
    """No element ended within ``max_element_bytes``; the caller words the typed error."""


class ArrayCutter(Generic[T]):
    """Feed chunks of a JSON array; get back the decoded runs of whole elements, in order.

    ``decode`` turns one ``[...]`` run into a value (a list of invoices). A run cut at a
    candidate comma is decoded straight away: when the decoder refuses it and the run is
    not even JSON, the comma was not between elements and an earlier one is tried; when
    the run is JSON, the decoder's error is the body's error and propagates.

    Anything that does not start as an array (an object, ``null``, a BOM) is kept whole
    and handed over at the end, so the decoder words the same error as for a whole body.
    """

    __slots__ = (
        "_buffer",
        "_decode",
        "_exact",
        "_max",
        "_opened",
        "_scan",
        "whole",
    )

    def __init__(self, decode: Callable[[bytes], T], max_element_bytes: int | None) -> None:
        self._buffer = bytearray()
        self._decode = decode
        self._max = max_element_bytes
        self._opened = False  # the array's ``[`` was seen and dropped
        self._scan: tuple[int, int, int] = (0, 0, -1)  # exact scanner: position, depth, cut
        self._exact = False  # a candidate was refused once: this body's elements nest
        self.whole = False  # not an array: everything is handed over at the end

    def feed(self, chunk: bytes) -> T | None:
        """Take ``chunk``; return the decoded run of the elements it completed, if any.

        Feed what the connection has right now (aiohttp's ``readany``), not fixed sizes:
        when bytes arrive faster than they decode, runs grow and the decoder's cost per
        call is spread over many elements; when they trickle, each element goes out as
        soon as the next one starts.
        """
        buffer = self._buffer
        buffer += chunk
        if (not self._opened and not self._open()) or self.whole:
            self._check_size()
            return None
        for cut, exact in self._cuts():
            run = b"[" + bytes(buffer[:cut]) + b"]"
            try:
                value = self._decode(run)
            except Exception:
                if exact or _is_json(run):
                    raise
                self._exact = True
                continue
            del buffer[: cut + 1]
            self._scan = (0, 0, -1)
            return value
        self._check_size()  # no comma between elements: all of it is one element so far
        return None

    def finish(self) -> T:
        """Decode the rest, at the end of the body: it ends with the array's own ``]``."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        return self._decode(rest if self.whole or not self._opened else b"[" + rest)

    def _open(self) -> bool:
        buffer = self._buffer
        start = len(buffer) - len(buffer.lstrip(_WHITESPACE))
        if start == len(buffer):
            return False
        if buffer[start] == 0x5B:  # "["
            del buffer[: start + 1]
        else:
            self.whole = True
        self._opened = True
        return True

    def _check_size(self) -> None:
        if self._max is not None and len(self._buffer) > self._max:
            raise ElementTooLargeError(len(self._buffer))

    def _cuts(self) -> Iterator[tuple[int, bool]]:
        """Commas that may end the last whole element, latest first; then the exact one."""
        buffer = self._buffer
        end = len(buffer)
        looked = 0
        while not self._exact and looked < _LOOK:
            comma = buffer.rfind(b",", 0, end)
            if comma <= 0:
                break
            end = comma
            looked += 1
            before = buffer[max(0, comma - 64) : comma].rstrip(_WHITESPACE)[-1:]
            after = buffer[comma + 1 : comma + 65].lstrip(_WHITESPACE)[:1]
            if before == b"}" and (after == b"{" or not after):  # not after: none begun yet
                yield comma, False
                break
        cut = self._exact_cut()
        if cut is not None:
            yield cut, True

    def _exact_cut(self) -> int | None:
        """The last comma at the array's own depth, by tracking strings and brackets.

        Resumes where it stopped on the previous chunk, so a long element costs one pass.
        """
        buffer = self._buffer
        position, depth, cut = self._scan
        for token in _TOKEN.finditer(buffer, position):
            first = token.group()[0]
            if first == 0x22:  # '"'
                if token.group(1) is None:  # a string still open: resume at its quote
                    break
            elif first in b"[{":
                depth += 1
            elif first in b"]}":
                depth -= 1
            elif depth == 0:
                cut = token.start()
            position = token.end()
        else:
            position = len(buffer)
        self._scan = (position, depth, cut)
        return cut if cut > 0 else None


def _is_json(text: bytes) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True
