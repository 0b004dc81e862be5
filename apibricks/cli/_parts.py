"""``--resume`` to Parquet: a directory of part files, each committed with one ledger line.

Finished organizations go into the open part's temporary file, a row group at a time (so
memory stays bounded, a huge organization included), until a part is due
(``part_organizations``, ``part_invoices`` or ``part_seconds``, whichever comes first);
the part is then closed, renamed into ``OUTPUT/part-NNNNNN.parquet``, and *then* one ledger line
names the part and the fingerprints of every organization in it. After a crash, ``kill -9``
included, a rerun deletes the parts no ledger line names (and any temporary file) and
fetches every organization not in the ledger, so each invoice is in the directory exactly
once. Readers (``pyarrow.parquet.read_table(dir)``, pandas, DuckDB, Spark) take the
directory as one dataset. Needs the ``arrow`` extra.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .._export import invoice_schema, require, to_arrow
from .._models import Invoice
from ._ledger import HEADER, LedgerError, json_line, ledger_path
from ._output import Writer
from ._shard import fingerprint

__all__ = ["PartsLedger"]

_OURS = re.compile(r"part-(\d{6,})\.parquet|\.part-\d{6,}\.parquet\.tmp")


class PartsLedger:
    part_organizations = 1_000
    part_invoices = 65_536
    part_seconds = 10.0
    rows_per_group = 65_536  # the open part is written a row group at a time

    def __init__(self, output: Path) -> None:
        self.output = output
        self.path = ledger_path(output)
        self.done: set[str] = set()
        self.organizations: set[str] = set()
        self._ledger: TextIO | None = None
        self._keys: list[str] = []
        self._organizations: list[str] = []
        self._invoices: list[Invoice] = []  # not yet in a row group of the open part
        self._count = 0  # invoices in the open part
        self._writer: Any = None  # the open part's pyarrow ParquetWriter, on its temporary file
        self._part = ""
        self._next_part = 0
        self._since = time.monotonic()
        self._parquet: Any = None

    def open(self) -> Writer:
        """Recover after any crash; returns the writer that collects the invoices."""
        self._parquet = require("pyarrow.parquet", "arrow")
        if self.output.exists() and not self.output.is_dir():
            raise LedgerError(
                f"{self.output} is a file; parquet with --resume writes a directory of parts: "
                "choose another --output"
            )
        parts = self._recover()
        missing = sorted(part for part in parts if not (self.output / part).is_file())
        if missing:
            raise LedgerError(
                f"{self.output} lacks {missing[0]}, which its ledger ({self.path.name}) lists; "
                "it was changed since, so resuming would lose invoices: start over elsewhere"
            )
        self.output.mkdir(exist_ok=True)
        for child in self.output.iterdir():
            match = _OURS.fullmatch(child.name)
            if match and child.name not in parts:  # written, never committed: refetched
                child.unlink()
            elif match:
                self._next_part = max(self._next_part, int(match[1]) + 1)
        self._ledger = self.path.open("a", encoding="utf-8", newline="")
        if self._ledger.tell() == 0:
            self._ledger.write(json.dumps(HEADER) + "\n")
            self._ledger.flush()
        return _PartsWriter(self)

    def _recover(self) -> set[str]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            if self.output.is_dir() and any(self.output.iterdir()):
                raise LedgerError(
                    f"{self.output} is not empty but has no ledger ({self.path.name}), so it "
                    "was not written by --resume; choose another --output"
                ) from None
            return set()
        parts: set[str] = set()
        valid = 0
        for line in raw.splitlines(keepends=True):
            entry = _entry(line)
            if entry is None:
                break  # a line cut by a crash: its part is not committed
            valid += len(line)
            if "keys" in entry:
                self.done.update(entry["keys"])
                self.organizations.update(entry.get("organizations", ()))
                if entry["part"] is not None:
                    parts.add(entry["part"])
        if valid < len(raw):
            with self.path.open("r+b") as ledger:
                ledger.truncate(valid)
        return parts

    def add(self, invoices: Sequence[Invoice]) -> None:
        """Collect ``invoices`` into the open part, a row group at a time (bounded memory)."""
        self._invoices.extend(invoices)
        self._count += len(invoices)
        if len(self._invoices) >= self.rows_per_group:
            self._write_rows()

    def _write_rows(self) -> None:
        if not self._invoices:
            return
        if self._writer is None:
            self._part = f"part-{self._next_part:06d}.parquet"
            self._writer = self._parquet.ParquetWriter(str(self._temporary()), invoice_schema())
        self._writer.write_table(to_arrow(self._invoices))
        self._invoices = []

    def _temporary(self) -> Path:
        return self.output / f".{self._part}.tmp"

    def finished(self, key: str, invoices: int, organization: str | None) -> None:
        self._keys.append(fingerprint(key))
        if organization is not None:
            self._organizations.append(organization)
        if (
            len(self._keys) >= self.part_organizations
            or self._count >= self.part_invoices
            or time.monotonic() - self._since >= self.part_seconds
        ):
            self.commit()

    def commit(self) -> None:
        """Write the collected organizations as one part, then ledger them."""
        assert self._ledger is not None
        self._since = time.monotonic()
        if not self._keys:
            return
        name = None
        self._write_rows()
        if self._writer is not None:
            name = self._part
            self._writer.close()
            self._writer = None
            os.replace(self._temporary(), self.output / name)
            self._next_part += 1
        entry = {
            "part": name,
            "keys": self._keys,
            "invoices": self._count,
            "organizations": self._organizations,
        }
        self._ledger.write(json.dumps(entry) + "\n")
        self._ledger.flush()
        self.done.update(self._keys)
        self._keys, self._organizations, self._count = [], [], 0

    def close(self) -> None:
        if self._writer is not None:  # an uncommitted part: its temporary file is refetched
            self._writer.close()
            self._writer = None
        if self._ledger is not None:
            self._ledger.close()


class _PartsWriter(Writer):
    def __init__(self, parts: PartsLedger) -> None:
        self._parts = parts

    def add(self, index: int, invoices: Sequence[Invoice]) -> None:
        self._parts.add(invoices)

    def close(self) -> None:
        self._parts.commit()


def _entry(line: bytes) -> dict[str, Any] | None:
    entry = json_line(line)
    if entry == HEADER:
        return {}
    if (
        entry is not None
        and isinstance(entry.get("keys"), list)
        and isinstance(entry.get("part"), (str, type(None)))
    ):
        return entry
    return None
