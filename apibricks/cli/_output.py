"""The output formats, each written as organizations arrive.

``json`` and ``jsonl`` hold the API's own invoice records, nested ``organization`` and all,
exactly as ``apibricks.dumps`` writes them: ``apibricks.decode_invoices`` reads them back
into objects equal to what ``list_paid`` returned (lossless). ``table`` and ``csv`` hold a
report row per invoice (see `_columns`). ``parquet`` (`_parquet`) holds ``to_arrow``'s
columns. json, jsonl, csv and parquet stream; only the table waits for every organization
(it needs column widths and a total).
"""

from __future__ import annotations

import abc
import csv
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from .._converter import to_wire
from .._models import Invoice
from ._columns import Column, columns
from ._text import one_line

__all__ = ["Writer", "csv_cell", "make_writer", "one_line"]

_TABLE_COLUMNS = (
    # header, column, right-aligned
    ("INVOICE", "invoiceNumber", False),
    ("PAID (UTC)", "paidDate", False),
    ("AMOUNT USD", "amountUsd", True),
    ("CURRENCY", "currency", False),
    ("STATUS", "status", False),
    ("ORGANIZATION", "organizationName", False),
)
_MAX_CELL = 40

try:
    import orjson
except ImportError:  # pragma: no cover - the optional "speed" extra
    orjson = None  # type: ignore[assignment]


def _json(record: dict[str, Any]) -> str:
    """One record as compact JSON text (UTF-8 kept; a lone surrogate left to the stream)."""
    if orjson is not None:
        try:
            return orjson.dumps(record).decode()
        except TypeError:  # a lone surrogate or an int beyond 64 bits: the stdlib copes
            pass
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class Writer(abc.ABC):
    """Receives each organization's invoices as they arrive; `close` finishes the document."""

    @abc.abstractmethod
    def add(self, index: int, invoices: Sequence[Invoice]) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...


class TextWriter(Writer):
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def close(self) -> None:
        self.stream.flush()


class JsonLinesWriter(TextWriter):
    """One API record per line: ``decode_invoices("[" + line + "]")`` reads one back."""

    def add(self, index: int, invoices: Sequence[Invoice]) -> None:
        for record in to_wire(invoices):  # one call: a shared organization is encoded once
            self.stream.write(_json(record) + "\n")
        self.stream.flush()


class JsonWriter(TextWriter):
    """One JSON array of API records, written an element at a time so memory stays flat."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._count = 0

    def add(self, index: int, invoices: Sequence[Invoice]) -> None:
        for record in to_wire(invoices):
            self.stream.write(",\n" if self._count else "[\n")
            self.stream.write(_json(record))
            self._count += 1
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n]\n" if self._count else "[]\n")
        super().close()


def csv_cell(value: Any) -> Any:
    """A csv cell: true/false, null as empty, numbers as numbers, text never a formula.

    A spreadsheet runs text starting with ``= + - @``, tab or CR as a formula, and the text
    here comes from the server (names, addresses, emails), so such text is prefixed with
    ``'`` as OWASP advises. Numbers (cents, dollars, counts) are not text and stay numbers.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class CsvWriter(TextWriter):
    """A header row of column names, then one report row per invoice (RFC 4180)."""

    def __init__(self, stream: TextIO, names: tuple[str, ...] | None = None) -> None:
        super().__init__(stream)
        self._columns = columns(names)
        # CRLF as RFC 4180 says; with "\n" the csv module would leave a CR in a cell unquoted.
        self._csv = csv.writer(stream, lineterminator="\r\n")
        self._csv.writerow([column.name for column in self._columns])

    def add(self, index: int, invoices: Sequence[Invoice]) -> None:
        self._csv.writerows(
            [csv_cell(column.get(invoice)) for column in self._columns] for invoice in invoices
        )
        self.stream.flush()


class TableWriter(TextWriter):
    """Aligned columns and a total, in keys-file order (so reruns compare line by line)."""

    def __init__(self, stream: TextIO, names: tuple[str, ...] | None = None) -> None:
        super().__init__(stream)
        self._layout: list[tuple[str, Column, bool]]
        if names is None:  # the short default: the columns a reader scans, under plain headers
            table = {
                column.name: column for column in columns(tuple(c for _, c, _ in _TABLE_COLUMNS))
            }
            self._layout = [(header, table[name], right) for header, name, right in _TABLE_COLUMNS]
        else:
            self._layout = [(column.name, column, False) for column in columns(names)]
        self._short_dates = names is None
        self._parts: list[tuple[int, list[list[Any]], int]] = []
        self._organizations: set[object] = set()  # counted once, however many keys reach one

    def add(self, index: int, invoices: Sequence[Invoice]) -> None:
        rows = [[column.get(invoice) for _, column, _ in self._layout] for invoice in invoices]
        cents = sum(invoice.amount_usd_cents for invoice in invoices)
        self._parts.append((index, rows, cents))
        self._organizations.update(invoice.id_organization for invoice in invoices)

    def close(self) -> None:
        self._parts.sort(key=lambda part: part[0])
        values = [row for _, rows, _ in self._parts for row in rows]
        right = [
            aligned or any(_is_number(row[i]) for row in values)
            for i, (_, _, aligned) in enumerate(self._layout)
        ]
        rows = [[header for header, _, _ in self._layout]]
        rows += [
            [
                self._cell(column.name, value)
                for (_, column, _), value in zip(self._layout, row, strict=True)
            ]
            for row in values
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(self._layout))]
        for row in rows:
            cells = [
                cell.rjust(width) if flush_right else cell.ljust(width)
                for cell, width, flush_right in zip(row, widths, right, strict=True)
            ]
            self.stream.write("  ".join(cells).rstrip() + "\n")
        total = Decimal(sum(cents for _, _, cents in self._parts)) / 100
        invoices = len(values)
        organizations = len(self._organizations)
        self.stream.write(
            f"{invoices} invoice{'s' * (invoices != 1)} from {organizations} "
            f"organization{'s' * (organizations != 1)}, total {total:,.2f} USD\n"
        )
        super().close()

    def _cell(self, name: str, value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, Decimal):
            return f"{value:,.2f}"
        if isinstance(value, bool):
            return "true" if value else "false"
        text = one_line(str(value))
        if self._short_dates and name == "paidDate":
            return text[:10]  # the date is what a reader scans for; json/csv keep the instant
        return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "\N{HORIZONTAL ELLIPSIS}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def make_writer(
    format: str, stream: TextIO | Path, columns: tuple[str, ...] | None = None
) -> Writer:
    """The writer of ``format``: to a text stream, or for parquet to a file path."""
    if isinstance(stream, Path):
        from ._parquet import ParquetWriter

        return ParquetWriter(stream)
    if format == "table":
        return TableWriter(stream, columns)
    if format == "csv":
        return CsvWriter(stream, columns)
    if format == "jsonl":
        return JsonLinesWriter(stream)
    return JsonWriter(stream)
