"""Which keys a run fetches: each distinct key once, minus those a resumed ledger holds.

One pass over the keys counts them and notes which ordinals to skip (a key seen on an
earlier line, or an organization already committed by ``--resume``); the fan-out then
streams the keys again and skips those ordinals. The distinct keys are held only during
that first pass, as 16-byte digests; the run keeps the skipped ordinals, which is nothing
in the common case of a file without duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from ._keys import KeySource
from ._shard import digest

__all__ = ["Plan", "make_plan"]

SHOWN_DUPLICATES = 10  # line numbers listed on stderr; the rest are counted


class Plan(NamedTuple):
    todo: int  # keys to fetch
    distinct: int  # distinct keys in the input (resumed ones included)
    duplicates: list[str]  # where the first SHOWN_DUPLICATES skipped lines are ("keys.txt:7")
    duplicate_count: int
    keys: Iterable[KeySource]  # the keys to fetch, streamed

    def duplicates_note(self, label: str) -> str | None:
        """One stderr line saying which lines repeated a key (by number: never the key)."""
        if not self.duplicate_count:
            return None
        numbers = [where.rpartition(":")[2] for where in self.duplicates]
        more = self.duplicate_count - len(numbers)
        shown = ", ".join(numbers) + (f", … {more:,} more" if more else "")
        lines = "line" if self.duplicate_count == 1 else "lines"
        return (
            f"apibricks: warning: {label}: skipped {self.duplicate_count:,} duplicate {lines} "
            f"({shown}): each key is fetched once"
        )


def make_plan(keys: Iterable[KeySource], done: set[str] | None = None) -> Plan:
    """Plan a run over ``keys``; ``done``: fingerprints (hex) a resumed ledger holds."""
    seen: set[bytes] = set()
    skip: set[int] = set()
    duplicates: list[str] = []
    duplicate_count = resumed = 0
    for ordinal, source in enumerate(keys):
        full = digest(source.key)
        identity = full[:16]  # enough to tell 10**9 keys apart, and half the memory
        if identity in seen:
            skip.add(ordinal)
            duplicate_count += 1
            if len(duplicates) < SHOWN_DUPLICATES:
                duplicates.append(source.where)
            continue
        seen.add(identity)
        if done and full.hex() in done:
            skip.add(ordinal)
            resumed += 1
    distinct = len(seen)
    seen.clear()  # the fetch streams the keys again: hold no key, not even a digest

    def todo() -> Iterator[KeySource]:
        for ordinal, source in enumerate(keys):
            if ordinal not in skip:
                yield source

    return Plan(distinct - resumed, distinct, duplicates, duplicate_count, todo())
