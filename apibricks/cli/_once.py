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

    def fresh(self, invoices: Sequence[Invoice]) -> tuple[list[Invoice], bool]:
        """The invoices not written yet, and whether an organization among them already was."""
        new: list[Invoice] = []
        repeated = False
        for organization, group in _by_organization(invoices).items():
            written = self._written.get(organization, b"")
            if organization in self._written:
                repeated = True
                if written is None:
                    continue
                known = array.array("q", written)
                seen = set(known)
                group = [invoice for invoice in group if _identity(invoice) not in seen]
            else:
                known = array.array("q")
            new.extend(group)
            known.extend(_identity(invoice) for invoice in group)
            self._written[organization] = known.tobytes()
        return new, repeated


def _by_organization(invoices: Sequence[Invoice]) -> dict[int, list[Invoice]]:
    """Grouped by organization, in order (a key's answer is one organization's)."""
    groups: dict[int, list[Invoice]] = {}
    for invoice in invoices:
        groups.setdefault(hash(invoice.id_organization), []).append(invoice)
    return groups
