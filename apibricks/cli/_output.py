"""Invoice records and the four output formats.

A record is the invoice as the API spells it (camelCase, via ``to_wire``) without the nested
organization, plus ``organizationId``, ``organizationName`` and ``amountUsd`` (dollars as an
exact decimal string). Every format carries the same record: json/jsonl/csv are for
programs, table for people. jsonl, csv and json stream as organizations arrive; only the
table waits for all of them (it needs column widths and a total).
"""

from __future__ import annotations

import abc
import csv
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TextIO

import attrs

from .._converter import to_wire, wire_name
from .._models import Invoice

__all__ = ["Writer", "invoice_record", "make_writer", "one_line"]

_TABLE_COLUMNS = (
    # header, record field, right-aligned
    ("INVOICE", "invoiceNumber", False),
    ("PAID (UTC)", "paidDate", False),
    ("AMOUNT USD", "amountUsd", True),
    ("CURRENCY", "currency", False),
    ("STATUS", "status", False),
    ("ORGANIZATION", "organizationName", False),
)
_MAX_CELL = 40


def _invoice_fields() -> list[tuple[str, str]]:
    """(attribute, wire name) of each invoice field but the nested organization."""
    return [
        (field.name, wire_name(Invoice, field.name))
        for field in attrs.fields(Invoice)
        if field.name != "organization"
    ]


_INVOICE_FIELDS = _invoice_fields()


def invoice_record(invoice: Invoice) -> dict[str, Any]:
    """One flat, JSON-ready output record for ``invoice``.

    Built field by field with ``to_wire`` rather than from ``to_wire(invoice)``, which would
    also encode the 50-odd organization fields only to drop them.
    """
    record: dict[str, Any] = {}
    for name, wire in _INVOICE_FIELDS:
        record[wire] = to_wire(getattr(invoice, name))
        if name == "amount_usd_cents":  # dollars beside cents, for readers of the raw output
            record["amountUsd"] = f"{invoice.amount_usd:f}"
    record["organizationId"] = to_wire(invoice.organization.id)
    record["organizationName"] = invoice.organization.name
    return record


def record_fields() -> list[str]:
    """The record's keys in order, known before any invoice arrives (the csv header)."""
    fields = [wire for _, wire in _INVOICE_FIELDS]
    fields.insert(fields.index("amountUsdCents") + 1, "amountUsd")
    return [*fields, "organizationId", "organizationName"]


def one_line(text: str) -> str:
    """``text`` safe for one terminal line: control characters (escapes, CR, LF) replaced."""
    return "".join(char if char.isprintable() else "\N{REPLACEMENT CHARACTER}" for char in text)


class Writer(abc.ABC):
    """Receives each organization's records as they arrive; `close` finishes the document."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    @abc.abstractmethod
    def add(self, index: int, records: Sequence[dict[str, Any]]) -> None: ...

    def close(self) -> None:
        self.stream.flush()


class JsonLinesWriter(Writer):
    def add(self, index: int, records: Sequence[dict[str, Any]]) -> None:
        for record in records:
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stream.flush()


class JsonWriter(Writer):
    """One JSON array, written an element at a time so memory stays flat."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._count = 0

    def add(self, index: int, records: Sequence[dict[str, Any]]) -> None:
        for record in records:
            self.stream.write(",\n  " if self._count else "[\n  ")
            self.stream.write(json.dumps(record, ensure_ascii=False))
            self._count += 1
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n]\n" if self._count else "[]\n")
        super().close()


class CsvWriter(Writer):
    """A header row, then one row per invoice; booleans as true/false, null as empty."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._csv = csv.DictWriter(stream, record_fields(), lineterminator="\n")
        self._csv.writeheader()

    def add(self, index: int, records: Sequence[dict[str, Any]]) -> None:
        for record in records:
            self._csv.writerow({name: _csv_cell(value) for name, value in record.items()})
        self.stream.flush()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class TableWriter(Writer):
    """Aligned key columns and a total, in keys-file order (so reruns compare line by line)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._parts: list[tuple[int, Sequence[dict[str, Any]]]] = []

    def add(self, index: int, records: Sequence[dict[str, Any]]) -> None:
        self._parts.append((index, records))

    def close(self) -> None:
        self._parts.sort(key=lambda part: part[0])
        records = [record for _, part in self._parts for record in part]
        rows = [[header for header, _, _ in _TABLE_COLUMNS]]
        rows += [
            [_table_cell(field, r.get(field)) for _, field, _ in _TABLE_COLUMNS] for r in records
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_TABLE_COLUMNS))]
        for row in rows:
            cells = [
                cell.rjust(width) if right else cell.ljust(width)
                for cell, width, (_, _, right) in zip(row, widths, _TABLE_COLUMNS, strict=True)
            ]
            self.stream.write("  ".join(cells).rstrip() + "\n")
        total = sum((Decimal(r["amountUsd"]) for r in records), Decimal("0.00"))
        organizations = sum(1 for _, part in self._parts if part)
        self.stream.write(
            f"{len(records)} invoice{'s' * (len(records) != 1)} from {organizations} "
            f"organization{'s' * (organizations != 1)}, total {total:,.2f} USD\n"
        )
        super().close()


def _table_cell(field: str, value: Any) -> str:
    if value is None:
        return "-"
    text = one_line(str(value))
    if field == "paidDate":
        return text[:10]  # the date is what a reader scans for; json/csv keep the instant
    if field == "amountUsd":
        return f"{Decimal(text):,.2f}"
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "\N{HORIZONTAL ELLIPSIS}"


_WRITERS: dict[str, type[Writer]] = {
    "table": TableWriter,
    "json": JsonWriter,
    "jsonl": JsonLinesWriter,
    "csv": CsvWriter,
}


def make_writer(format: str, stream: TextIO) -> Writer:
    return _WRITERS[format](stream)
