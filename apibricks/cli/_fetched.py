"""One organization's invoices as the command line fetches them: streamed, bounded in memory.

Each organization is fetched with ``invoices.iter_paid()``; its invoices are held in memory
while few, and past `SPILL` they go to a temporary file as API records (lossless, as
``--format jsonl`` writes them), so an organization of a million invoices costs disk, not
memory. The output gets an organization once it is complete, in `BATCH`-sized pieces:
its records stay contiguous, which is what ``--resume``'s ledger commits (a key's records
are in the output entirely, or not at all), and a failed organization writes nothing.
"""

from __future__ import annotations

import tempfile
import weakref
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Final

import orjson

from .._converter import decode_invoices, to_wire
from .._models import Invoice

if TYPE_CHECKING:
    from .._async import AsyncClient

__all__ = ["BATCH", "SPILL", "Fetched", "fetch_paid"]

SPILL: Final = 2_000  # invoices held in memory per organization; the rest go to disk
BATCH: Final = 2_000  # invoices handed to the writer at once


class Fetched:
    """An organization's invoices, in order: the spilled ones first, then those held."""

    __slots__ = ("__weakref__", "_close", "_held", "_spill", "count")

    def __init__(self) -> None:
        self._held: list[Invoice] = []
        self._spill: IO[bytes] | None = None
        self._close: weakref.finalize[[], Fetched] | None = None
        self.count = 0

    def add(self, invoice: Invoice) -> None:
        self._held.append(invoice)
        self.count += 1
        if len(self._held) >= SPILL:
            self._write_out()

    def _write_out(self) -> None:
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="apibricks-", suffix=".jsonl")  # noqa: SIM115
            # Closed when dropped unread too (a run that stopped early), without a warning.
            self._close = weakref.finalize(self, self._spill.close)
        records = to_wire(self._held)  # one call: the shared organization encoded once
        self._spill.write(b"\n".join(orjson.dumps(record) for record in records) + b"\n")
        self._held = []

    def batches(self) -> Iterator[list[Invoice]]:
        """The invoices, `BATCH` at a time, as decoded from the API (equal, shared orgs)."""
        if self._spill is not None:
            self._spill.seek(0)
            lines: list[bytes] = []
            for line in self._spill:
                lines.append(line)
                if len(lines) == BATCH:
                    yield decode_invoices(b"[" + b",".join(lines) + b"]")
                    lines = []
            if lines:
                yield decode_invoices(b"[" + b",".join(lines) + b"]")
        if self._held:
            yield self._held

    def close(self) -> None:
        if self._close is not None:
            self._close()


async def fetch_paid(organization: AsyncClient) -> Fetched:
    """The fan-out's operation: one organization's paid invoices, streamed."""
    fetched = Fetched()
    try:
        async for invoice in organization.invoices.iter_paid():
            fetched.add(invoice)
    except BaseException:
        fetched.close()
        raise
    return fetched
