"""What a fan-out across organizations hands back: one `Outcome` per input key, `Progress`
ticks while it runs, and `PaidInvoicesReport` for the headline job.

Every type here may be logged or printed by users, so a key is always shown as a short
hint (`apibricks._auth.key_hint`), never whole.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar, cast

import attrs

from ._auth import key_hint
from ._exceptions import APIBricksError
from ._models import Invoice, Organization

__all__ = [
    "OperationError",
    "OrganizationInvoices",
    "Outcome",
    "PaidInvoicesReport",
    "Progress",
]

T = TypeVar("T")


def _hint(key: object) -> str:
    """repr() of a key as a hint; works for the non-str garbage a fan-out may be fed."""
    return repr(key_hint(key)) if isinstance(key, str) else f"<{type(key).__name__}>"


class OperationError(APIBricksError):
    """The fan-out ``operation`` raised something other than an `APIBricksError`.

    Most likely a bug in the caller's lambda or in what it does with the data. It becomes
    that key's outcome so a long run across thousands of organizations loses nothing; the
    original exception (and its traceback) is ``__cause__``, and `Outcome.unwrap` raises it
    chained.
    """


@attrs.frozen
class Outcome(Generic[T]):
    """The result for one key of a fan-out: a value or an error, never both, never neither.

    Attributes:
        index: position of the key in the input (duplicates get their own positions).
        key: the key exactly as given; its repr shows only a short hint.
        value: what the operation returned (None when it failed).
        error: why it failed: the `APIBricksError` it raised (`APIKeyError` for a key
            that was refused before sending), or `OperationError` wrapping anything else.
    """

    index: int
    key: str = attrs.field(repr=_hint)
    value: T | None = None
    error: APIBricksError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> T:
        """The value, or raise the error."""
        if self.error is not None:
            raise self.error
        return cast(T, self.value)


@attrs.frozen
class Progress:
    """Passed to ``on_progress`` after each outcome: ``total`` is None for unsized input.

    Attributes:
        done: outcomes so far; ``errors`` of them failed.
        elapsed: seconds since the fan-out started.
        rate: outcomes per second so far (``done / elapsed``).
        pace: requests per second the fan-out now allows, found from the server's 429/503
            answers (``adaptive``) under ``rate_limit``; None while nothing limits it.
        throttled: 429/503 answers so far (each one retried, or that key's error).
    """

    done: int
    total: int | None
    errors: int
    elapsed: float = 0.0
    rate: float = 0.0
    pace: float | None = None
    throttled: int = 0


@attrs.frozen
class OrganizationInvoices:
    """One key's line in a `PaidInvoicesReport`.

    ``organization`` comes from the invoices, so it is None for an organization without
    paid invoices as well as for a failure (see ``error``).
    """

    index: int
    key: str = attrs.field(repr=_hint)
    organization: Organization | None
    invoices: tuple[Invoice, ...] = attrs.field(repr=lambda invoices: f"<{len(invoices)}>")
    error: APIBricksError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def total_usd_cents(self) -> int:
        return sum(invoice.amount_usd_cents for invoice in self.invoices)

    @property
    def total_usd(self) -> decimal.Decimal:
        return decimal.Decimal(f"{self.total_usd_cents}e-2")


@attrs.frozen(repr=False)
class PaidInvoicesReport:
    """Paid invoices across many organizations: one entry per input key, in input order.

    The overall ``total_usd_cents`` and ``invoice_count`` count each invoice once, even
    when two keys (a duplicate, or two keys of one organization) return the same
    invoices, so a finance total is never inflated; per-entry totals are per key.
    """

    entries: tuple[OrganizationInvoices, ...]
    total_usd_cents: int
    invoice_count: int

    @classmethod
    def from_outcomes(cls, outcomes: Iterable[Outcome[list[Invoice]]]) -> PaidInvoicesReport:
        by_index = sorted(outcomes, key=lambda outcome: outcome.index)
        entries = tuple(
            OrganizationInvoices(
                index=outcome.index,
                key=outcome.key,
                organization=outcome.value[0].organization if outcome.value else None,
                invoices=tuple(outcome.value or ()),
                error=outcome.error,
            )
            for outcome in by_index
        )
        distinct: dict[object, int] = {}
        for entry in entries:
            for invoice in entry.invoices:
                identity = (
                    (invoice.id_organization, invoice.id) if invoice.id is not None else invoice
                )
                distinct[identity] = invoice.amount_usd_cents
        return cls(entries, sum(distinct.values()), len(distinct))

    @property
    def failures(self) -> tuple[OrganizationInvoices, ...]:
        return tuple(entry for entry in self.entries if entry.error is not None)

    @property
    def ok(self) -> bool:
        """True when every key succeeded: the totals are complete."""
        return all(entry.error is None for entry in self.entries)

    @property
    def total_usd(self) -> decimal.Decimal:
        return decimal.Decimal(f"{self.total_usd_cents}e-2")

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[OrganizationInvoices]:
        return iter(self.entries)

    def __repr__(self) -> str:
        return (
            f"PaidInvoicesReport(entries={len(self.entries)}, failures={len(self.failures)}, "
            f"invoice_count={self.invoice_count}, total_usd_cents={self.total_usd_cents})"
        )
