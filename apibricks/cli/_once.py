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
        self._current: tuple[int, set[int]] | None = None  # the last organization, unpacked
        for organization in committed:
            try:
                self._written[hash(uuid.UUID(organization))] = None
            except (TypeError, ValueError, AttributeError):  # a ledger edited by hand
                continue

    def fresh(self, invoices: Sequence[Invoice]) -> tuple[list[Invoice], bool]:
        """The invoices not written yet, and whether an organization among them already was.

        An organization's invoices may come in several batches (a large one is streamed):
        the identities of the last organization seen stay unpacked between calls, so its
        next batch costs its own length, not the organization's.
        """
        new: list[Invoice] = []
        repeated = False
        for organization, group in _by_organization(invoices).items():
            if organization in self._written:
                repeated = True
                if self._written[organization] is None:
                    continue
                seen = self._unpacked(organization)
                group = [invoice for invoice in group if _identity(invoice) not in seen]
            else:
                self._written[organization] = b""
                seen = self._unpacked(organization)
            new.extend(group)
            seen.update(_identity(invoice) for invoice in group)
        return new, repeated

    def _unpacked(self, organization: int) -> set[int]:
        """The identities written for ``organization``, as a set kept until another's."""
        if self._current is not None and self._current[0] == organization:
            return self._current[1]
        if self._current is not None:  # pack the previous one away: 8 bytes an invoice
            previous, identities = self._current
            self._written[previous] = array.array("q", identities).tobytes()
        written = self._written[organization] or b""
        self._current = (organization, set(array.array("q", written)))
        return self._current[1]


def _by_organization(invoices: Sequence[Invoice]) -> dict[int, list[Invoice]]:
    """Grouped by organization, in order (a key's answer is one organization's)."""
    groups: dict[int, list[Invoice]] = {}
    for invoice in invoices:
        groups.setdefault(hash(invoice.id_organization), []).append(invoice)
    return groups
