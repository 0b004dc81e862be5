"""Reading a response body with a ceiling on its *decompressed* size.

aiohttp is asked not to inflate (``auto_decompress=False``) and the body is inflated
here, at most one step at a time (``zlib``'s ``max_length``), so a gzip bomb costs the
cap plus one step of memory and is refused the moment it crosses the cap, without
reading the rest. Between steps the loop gets a turn, so ``timeout`` can fire during a
long inflation too.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Final

import aiohttp

from ._exceptions import APIConnectionError, DecodeError, ResponseTooLargeError

__all__ = ["ERROR_BODY_LIMIT", "read_body"]

ERROR_BODY_LIMIT: Final = 64 * 2**10
_STEP: Final = 2**20  # bytes inflated before the event loop gets a turn
_WBITS: Final = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": 32 + 15}


class _Inflater:
    """A zlib stream fed in bounded steps; gzip members that follow each other included."""

    __slots__ = ("_wbits", "_zlib", "tail")

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._zlib = zlib.decompressobj(wbits)
        self.tail = b""  # input not yet inflated: feed it back before the next chunk

    def inflate(self, data: bytes, max_length: int) -> bytes:
        if self._zlib.eof:  # the previous member ended: a new one starts here
            self._zlib = zlib.decompressobj(self._wbits)
        out = self._zlib.decompress(data, max_length)
        self.tail = self._zlib.unconsumed_tail or (
            self._zlib.unused_data if self._zlib.eof else b""
        )
        return out

    @property
    def complete(self) -> bool:
        return self._zlib.eof


def _too_large(limit: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"The response body is larger than max_response_bytes={limit:,} (decompressed); "
        "it was not read any further. Raise max_response_bytes (None: no limit) if this "
        "organization really has that much data."
    )


async def read_body(response: aiohttp.ClientResponse, limit: int | None, *, cut: bool) -> bytes:
    """The body, decompressed, at most ``limit`` bytes.

    Crossing ``limit`` raises `ResponseTooLargeError` at once, or with ``cut`` (error
    bodies) returns the first ``limit`` bytes. The response must have been requested with
    ``auto_decompress=False``.
    """
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    inflater: _Inflater | None = None
    if encoding in _WBITS:
        inflater = _Inflater(_WBITS[encoding])
    elif encoding not in ("", "identity"):
        if cut:
            inflater = None  # keep the raw bytes of an error body: better than nothing
        else:
            raise DecodeError(
                f"The response uses Content-Encoding {encoding[:40]!r}, not asked for."
            )
    elif (length := response.content_length) is not None:
        if limit is None or length <= limit:
            # Plain bytes of an announced length within the cap (the usual reply): aiohttp
            # reads exactly that many, no more, in one call.
            return await response.read()
        if not cut:
            raise _too_large(limit)
    body = bytearray()
    fed = False
    async for chunk in response.content.iter_any():
        fed = True
        if inflater is None:
            body += chunk
        else:
            data = chunk
            while data:
                room = _STEP if limit is None else min(_STEP, limit - len(body) + 1)
                try:
                    body += inflater.inflate(data, room)
                except zlib.error as exc:
                    if cut:
                        return bytes(body)
                    raise APIConnectionError(f"The {encoding} body is corrupt: {exc}.") from exc
                if limit is not None and len(body) > limit:
                    break
                data = inflater.tail
                if data:
                    await asyncio.sleep(0)  # a long inflation yields, so timeouts can fire
        if limit is not None and len(body) > limit:
            if cut:
                return bytes(body[:limit])
            raise _too_large(limit)
    if inflater is not None and fed and not inflater.complete and not cut:
        raise APIConnectionError(f"The {encoding} body ended before its stream did.")
    return bytes(body)
