"""``--format parquet``: the columns of ``apibricks.to_arrow``, written a row group at a time.

Invoices are buffered up to ``rows_per_group`` and then written as one row group, so
memory stays bounded however many organizations a run covers. Needs the ``arrow`` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .._export import invoice_schema, require, to_arrow
from .._models import Invoice
from ._output import Writer

__all__ = ["ParquetWriter"]


class ParquetWriter(Writer):
    rows_per_group = 65_536

    def __init__(self, path: Path) -> None:
        parquet = require("pyarrow.parquet", "arrow")
        self._writer = parquet.ParquetWriter(str(path), invoice_schema())
        self._pending: list[Invoice] = []

    def add(self, index: int, invoices: Sequence[Invoice]) -> None:
        self._pending.extend(invoices)
        if len(self._pending) >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(to_arrow(self._pending))
            self._pending = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
