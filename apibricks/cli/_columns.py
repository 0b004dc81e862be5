"""The report row of ``table`` and ``csv``: named columns, each a value taken from an invoice.

Columns are named as the API names fields: any invoice field (``invoiceNumber``), any
organization field as ``organization.FIELD``, plus ``amountUsd`` (exact dollars beside the
cents) and ``organizationId``/``organizationName`` (the default row's short names). Both
lists derive from the attrs models, so a field added there is a column here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs

from .._converter import to_wire, wire_name
from .._models import Invoice, Organization

__all__ = ["DEFAULT_COLUMNS", "Column", "column_names", "columns"]


@attrs.frozen
class Column:
    name: str
    get: Callable[[Invoice], Any]  # a JSON-ready value, or a Decimal for amountUsd


def _invoice_field(attribute: str) -> Callable[[Invoice], Any]:
    return lambda invoice: to_wire(getattr(invoice, attribute))


def _organization_field(attribute: str) -> Callable[[Invoice], Any]:
    return lambda invoice: to_wire(getattr(invoice.organization, attribute))


def _amount_usd(invoice: Invoice) -> Decimal:
    return invoice.amount_usd


@functools.lru_cache(maxsize=1)
def _all() -> dict[str, Column]:
    found: dict[str, Column] = {}
    for field in attrs.fields(Invoice):
        if field.name == "organization":
            continue
        name = wire_name(Invoice, field.name)
        found[name] = Column(name, _invoice_field(field.name))
        if field.name == "amount_usd_cents":  # dollars right beside the cents
            found["amountUsd"] = Column("amountUsd", _amount_usd)
    found["organizationId"] = Column("organizationId", _organization_field("id"))
    found["organizationName"] = Column("organizationName", _organization_field("name"))
    for field in attrs.fields(Organization):
        name = f"organization.{wire_name(Organization, field.name)}"
        found[name] = Column(name, _organization_field(field.name))
    return found


def column_names() -> list[str]:
    """Every valid ``--columns`` name, invoice fields first."""
    return list(_all())


# The csv row when no --columns is given: the invoice, dollars, and who paid it.
DEFAULT_COLUMNS: tuple[str, ...] = tuple(
    name for name in _all() if not name.startswith("organization.")
)


def columns(names: tuple[str, ...] | None) -> list[Column]:
    """The named columns, in order (names already checked by the argument parser)."""
    table = _all()
    return [table[name] for name in names or DEFAULT_COLUMNS]
