"""Each invoice written once, even when two keys reach the same organization.

`paid_invoices_by_organization` promises never to inflate a finance total: it counts an
invoice once by its identity, ``(id_organization, id)``. The command line writes what it
fetches as it goes, so it keeps the same promise by remembering, per organization written,
the identities of its invoices (8 bytes each, packed): a second key of that organization
adds only the invoices the first did not return (usually none). Organizations a resumed
ledger already committed are complete: a later key of theirs adds nothing.
"""

from __future__ import annotations

import array
import uuid
from collections.abc import Iterable, Sequence

from .._models import Invoice

__all__ = ["WrittenOnce"]


def _identity(invoice: Invoice) -> int:
    """As `PaidInvoicesReport` identifies an invoice (hashed: the run holds 8 bytes of it)."""
    return hash((invoice.id_organization, invoice.id) if invoice.id is not None else invoice)


class WrittenOnce:
    def __init__(self, committed: Iterable[str] = ()) -> None:
        # organization -> the identities written, packed; None: committed by an earlier run
        self._written: dict[int, bytes | None] = {}
        for organization in committed:
            try:
                self._written[hash(uuid.UUID(organization))] = None
            except (TypeError, ValueError, AttributeError):  # a ledger edited by hand
                continue
        # The organization being written (a key's answer comes in batches): its identities
        # as a set, packed into `_written` only when another organization comes.
        self._open: int | None = None
        self._open_ids = array.array("q")
        self._open_set: set[int] = set()

    def fresh(self, invoices: Sequence[Invoice]) -> tuple[list[Invoice], bool]:
        """The invoices not written yet, and whether one of their organizations was seen
        before this call (by another key, or by this key's earlier batches)."""
        new: list[Invoice] = []
        repeated = False
        for organization, group in _by_organization(invoices).items():
            repeated = repeated or organization in self._written
            if organization != self._open:
                if organization in self._written and self._written[organization] is None:
                    continue  # committed whole by an earlier run
                self._reopen(organization)
            for invoice in group:
                identity = _identity(invoice)
                if identity not in self._open_set:
                    self._open_set.add(identity)
                    self._open_ids.append(identity)
                    new.append(invoice)
        return new, repeated

    def _reopen(self, organization: int) -> None:
        if self._open is not None:
            self._written[self._open] = self._open_ids.tobytes()
        self._open_ids = array.array("q", self._written.get(organization) or b"")
        self._open_set = set(self._open_ids)
        self._open = organization
        self._written[organization] = b""  # seen; its identities are packed on leaving


def _by_organization(invoices: Sequence[Invoice]) -> dict[int, list[Invoice]]:
    """Grouped by organization, in order (a key's answer is one organization's)."""
    groups: dict[int, list[Invoice]] = {}
    for invoice in invoices:
        groups.setdefault(hash(invoice.id_organization), []).append(invoice)
    return groups
