"""Invoices of one body decoded while it arrives: bounded memory, same values as a whole body.

Bytes go through an `ArrayCutter` (whole invoices only) into `InvoiceRuns` (the decoder of
whole bodies, with what one response shares carried from run to run). Errors keep the
whole body's wording: a decode error's path counts invoices from the start of the body.
"""

from __future__ import annotations

import re
from typing import Final

from ._array_cutter import ArrayCutter, ElementTooLargeError
from ._converter import InvoiceRuns
from ._exceptions import DecodeError, ResponseTooLargeError
from ._models import Invoice

__all__ = ["DEFAULT_MAX_INVOICE_BYTES", "InvoiceStream"]

DEFAULT_MAX_INVOICE_BYTES: Final = 16 * 2**20
"""One invoice is ~2 KB; a single element larger than this is refused, not buffered."""

_INDEX: Final = re.compile(r"\[(\d+)\]")


class InvoiceStream:
    """Feed decompressed chunks in order; get each invoice back once its bytes are whole."""

    __slots__ = ("_cutter", "_limit", "_runs", "count")

    def __init__(self, max_invoice_bytes: int | None = DEFAULT_MAX_INVOICE_BYTES) -> None:
        self._runs = InvoiceRuns()
        self._cutter = ArrayCutter(self._decode, max_invoice_bytes)
        self._limit = max_invoice_bytes
        self.count = 0  # invoices decoded so far: the index of the next one

    def feed(self, chunk: bytes) -> list[Invoice]:
        """The invoices ``chunk`` completed (often none, often many)."""
        try:
            return self._cutter.feed(chunk) or []
        except ElementTooLargeError:
            raise self._too_large() from None

    def finish(self) -> list[Invoice]:
        """The last invoices, once the body has ended; a `DecodeError` if it ended badly."""
        return self._cutter.finish()

    def _decode(self, run: bytes) -> list[Invoice]:
        try:
            invoices = self._runs(run)
        except DecodeError as error:
            raise _shifted(error, self.count) from None
        self.count += len(invoices)
        return invoices

    def _too_large(self) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"Invoice {self.count} of the streamed body is larger than "
            f"max_invoice_bytes={self._limit:,}; the body was not read any further. Raise "
            "max_invoice_bytes (None: no limit) if an invoice really is that large."
        )


def _shifted(error: DecodeError, offset: int) -> DecodeError:
    """``error`` with its path counted from the start of the body, not of the run."""
    if not offset or not error.path.startswith("["):
        return error
    message = str(error)[len(error.path) + 2 :]
    path = _INDEX.sub(lambda m: f"[{int(m[1]) + offset}]", error.path, count=1)
    return DecodeError(message, path=path)
