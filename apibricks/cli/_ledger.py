"""``--resume``: the output file as a journal, with a ledger of finished organizations.

For each organization that completes, its records are appended to the output and flushed,
*then* one ledger line is appended: the key's fingerprint (never the key) and the output's
size after those records. So at any instant, ``kill -9`` included, the ledger's last
complete line says how much of the output is committed. A rerun truncates the output to
that size (dropping an organization whose records were written but not yet ledgered) and
skips every fingerprint in the ledger: every invoice ends up in the output exactly once.
Failed organizations are not ledgered, so a rerun retries them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol, TextIO

from ._shard import fingerprint

__all__ = ["HEADER", "Journal", "Ledger", "LedgerError", "ledger_path"]

HEADER = {"apibricks_ledger": 1}


class LedgerError(Exception):
    """The output and its ledger do not belong together; resuming would lose or repeat data."""


class Journal(Protocol):
    """What the run needs of a ledger: what is done, and a way to commit one organization."""

    output: Path
    done: set[str]
    organizations: set[str]  # ids of the organizations committed (each is written once)

    def finished(self, key: str, invoices: int, organization: str | None) -> None: ...


def ledger_path(output: Path) -> Path:
    return output.with_name(output.name + ".ledger")


class Ledger:
    def __init__(self, output: Path) -> None:
        self.output = output
        self.path = ledger_path(output)
        self.done: set[str] = set()
        self.organizations: set[str] = set()
        self._data: TextIO | None = None
        self._ledger: TextIO | None = None

    def open(self) -> TextIO:
        """Recover after any crash; returns the output, open for appending records."""
        committed = self._recover()
        with self.output.open("ab") as data:  # create it, and cut an unledgered tail
            if data.seek(0, os.SEEK_END) > committed:
                data.truncate(committed)
        self._ledger = self.path.open("a", encoding="utf-8", newline="")
        if not self.done and self._ledger.tell() == 0:
            self._ledger.write(json.dumps(HEADER) + "\n")
            self._ledger.flush()
        self._data = self.output.open("a", encoding="utf-8", errors="backslashreplace", newline="")
        return self._data

    def _recover(self) -> int:
        """Read the ledger's complete lines; returns the committed size of the output."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raw = None
        size = self.output.stat().st_size if self.output.exists() else 0
        if raw is None:
            if size:
                raise LedgerError(
                    f"{self.output} exists but has no ledger ({self.path.name}), so it was not "
                    "written by --resume; move it away, or run without --resume to replace it"
                )
            return 0
        committed, valid = 0, 0
        for line in raw.splitlines(keepends=True):
            entry = _entry(line)
            if entry is None:
                break  # a line cut by a crash: everything after it is not committed
            valid += len(line)
            if "key" in entry:
                self.done.add(entry["key"])
                committed = entry["end"]
                if isinstance(entry.get("organization"), str):
                    self.organizations.add(entry["organization"])
        if committed > size:
            raise LedgerError(
                f"{self.output} is shorter than its ledger says ({size} < {committed} bytes); "
                "it was changed since; start over without --resume"
            )
        if valid < len(raw):
            with self.path.open("r+b") as ledger:
                ledger.truncate(valid)
        return committed

    def finished(self, key: str, invoices: int, organization: str | None) -> None:
        """Commit one organization whose records were just written to the output."""
        assert self._data is not None and self._ledger is not None
        self._data.flush()
        end = os.fstat(self._data.fileno()).st_size
        print_ = fingerprint(key)
        entry: dict[str, object] = {"key": print_, "end": end, "invoices": invoices}
        if organization is not None:
            entry["organization"] = organization
        self._ledger.write(json.dumps(entry) + "\n")
        self._ledger.flush()
        self.done.add(print_)

    def close(self) -> None:
        for stream in (self._data, self._ledger):
            if stream is not None:
                stream.close()


def json_line(line: bytes) -> dict[str, Any] | None:
    """A complete (newline-ended) line holding a JSON object; None for a torn or foreign one."""
    if not line.endswith(b"\n"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def _entry(line: bytes) -> dict[str, Any] | None:
    entry = json_line(line)
    if entry is None or entry == HEADER:
        return entry
    if isinstance(entry.get("key"), str) and isinstance(entry.get("end"), int):
        return entry
    return None
