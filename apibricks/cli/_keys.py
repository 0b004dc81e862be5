"""The keys of a run: one from ``--api-key``/the environment, or a keys file read lazily.

A keys file is checked line by line before anything is sent (a bad line is a usage error
naming its number), then read again as the fan-out pulls keys, rather than held: a run over
10**6 organizations holds the keys in flight, not a million key objects. Standard input
cannot be read twice, so its bytes (not one object per key) are kept. A file and standard
input go through one reader with one set of rules: UTF-8, a leading BOM skipped, any
other encoding refused as "not UTF-8 text".
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple, TextIO, TypeVar

from .._auth import APIKeyError, key_hint, validate_api_key
from ._errors import UsageError
from ._shard import Shard

__all__ = ["KeyFile", "KeySource", "Keys"]

_T = TypeVar("_T")


class KeySource(NamedTuple):  # not attrs: `--help` loads none (see .._defaults)
    """One API key and where it came from, so a failure can point at the keys-file line."""

    key: str
    where: str

    def __repr__(self) -> str:
        return f"KeySource(key={key_hint(self.key)!r}, where={self.where!r})"  # never the key


class KeyFile:
    """The keys of a keys file (``-``: stdin), in file order, optionally one shard of them."""

    def __init__(self, name: str, stdin: TextIO, shard: Shard | None = None) -> None:
        self.label = "stdin" if name == "-" else name
        self.shard = shard
        self._path = None if name == "-" else Path(name)
        self._data = self._read(lambda: _bytes_of(stdin)) if name == "-" else None
        self._count = self._check()

    def _read(self, read: Callable[[], _T]) -> _T:
        try:
            return read()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise UsageError(
                f"cannot read keys file {self.label}: {reason}; check the path"
            ) from None
        except UnicodeError:  # decoding, or a text stream's undecodable escapes
            raise UsageError(
                f"keys file {self.label} is not UTF-8 text; save it as UTF-8"
            ) from None

    def _lines(self) -> Iterator[tuple[int, str]]:
        """Numbered lines, decoded by the same rules for a file and for standard input."""
        raw: BinaryIO
        if self._data is not None:
            raw = io.BytesIO(self._data)
        else:
            assert self._path is not None
            raw = self._path.open("rb")
        with io.TextIOWrapper(raw, encoding="utf-8-sig") as lines:
            yield from enumerate(lines, 1)

    def _check(self) -> int:
        """Validate every line now; returns how many keys this shard holds."""
        total = mine = 0
        lines = self._lines()
        while True:
            step = self._read(lambda: next(lines, None))
            if step is None:
                break
            source = self._source(*step)
            if source is not None:
                total += 1
                mine += self.shard is None or self.shard.holds(source.key)
        if not total:
            raise UsageError(f"keys file {self.label} has no keys; put one API key per line")
        return mine

    def _source(self, number: int, line: str) -> KeySource | None:
        key = line.strip()
        if not key or key.startswith("#"):
            return None
        where = f"{self.label}:{number}"
        try:
            return KeySource(validate_api_key(key), where)
        except APIKeyError as exc:
            raise UsageError(f"{where}: {exc}; fix or remove that line") from None

    def __iter__(self) -> Iterator[KeySource]:
        for number, line in self._lines():
            source = self._source(number, line)
            if source is not None and (self.shard is None or self.shard.holds(source.key)):
                yield source

    def __len__(self) -> int:
        return self._count


def _bytes_of(stdin: TextIO) -> bytes:
    """Standard input's bytes as sent: decoding is the reader's job, not the locale's."""
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        return bytes(buffer.read())
    # A text stream only (tests, embedding): its own decoding's escapes turned back.
    return stdin.read().encode("utf-8", "surrogateescape")


Keys = list[KeySource] | KeyFile
