"""A streamed body: decompressed chunk by chunk, each wait for bytes under the timeout.

For a body read whole (`read_body`) the timeout bounds the whole attempt. A streamed body
of gigabytes takes minutes, so here ``timeout`` bounds each wait for more bytes: silence,
not length. Memory is one network read plus one inflation step, whatever the body's size.
"""

from __future__ import annotations

import asyncio
import sys
import zlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Final, TypeVar

import aiohttp

from .._exceptions import APIConnectionError, APITimeoutError, DecodeError
from .._limits import _WBITS, _Inflater

if sys.version_info >= (3, 11):
    from asyncio import timeout as _timeout
else:  # aiohttp's own dependency there
    from async_timeout import timeout as _timeout

__all__ = ["BodyStream", "body_chunks", "flatten"]

T = TypeVar("T")

_STEP: Final = 4 * 2**20  # bytes inflated at once: bounded memory against a gzip bomb


class BodyStream:
    """A 2xx whose body is read as it arrives: `chunks` once, then `close` (early too)."""

    __slots__ = ("_response", "_timeout")

    def __init__(self, response: aiohttp.ClientResponse, timeout: float | None) -> None:
        self._response = response
        self._timeout = timeout

    def chunks(self) -> AsyncIterator[bytes]:
        return body_chunks(self._response, self._timeout)

    def close(self) -> None:
        """A body read to its end gives its connection back to the pool (which the client
        closes in order); an unread rest drops it, never handed to the next call."""
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


async def body_chunks(
    response: aiohttp.ClientResponse, timeout: float | None
) -> AsyncIterator[bytes]:
    """The body of ``response`` (requested with ``auto_decompress=False``), as it arrives."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    inflater: _Inflater | None = None
    if encoding in _WBITS:
        inflater = _Inflater(_WBITS[encoding])
    elif encoding not in ("", "identity"):
        raise DecodeError(f"The response uses Content-Encoding {encoding[:40]!r}, not asked for.")
    fed = False
    while True:
        try:
            async with _timeout(timeout):
                chunk = await response.content.readany()
        except asyncio.TimeoutError:
            raise APITimeoutError(
                f"The streamed body was silent for more than timeout={timeout} s."
            ) from None
        if not chunk:
            break
        fed = True
        if inflater is None:
            yield chunk
            continue
        while chunk:
            try:
                out = inflater.inflate(chunk, _STEP)
            except zlib.error as exc:
                raise APIConnectionError(f"The {encoding} body is corrupt: {exc}.") from None
            chunk = inflater.tail
            if out:
                yield out
    if inflater is not None and fed and not inflater.complete:
        raise APIConnectionError(f"The {encoding} body ended before its stream did.")


async def flatten(runs: AsyncGenerator[list[T], None]) -> AsyncIterator[T]:
    """One item at a time from runs of items (the sync facade takes the runs whole)."""
    try:
        async for run in runs:
            for item in run:
                yield item
    finally:
        await runs.aclose()
