"""RFC 3339 timestamps, as the Console API writes them, to and from aware UTC datetimes.

Read: ``YYYY-MM-DDTHH:MM:SS``, any number of fraction digits (past microseconds truncated,
as .NET writes 7), then ``Z``, ``+hh:mm``, ``-hh:mm`` or nothing (ASP.NET's unspecified
kind, read as UTC); ``T`` and ``Z`` in either case, as RFC 3339 allows. Write:
`format_timestamp`, UTC with ``Z`` and six fraction digits (none when they are zero).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Final

__all__ = ["FAST_SUFFIX", "UTC_SHAPES", "format_timestamp", "parse_timestamp"]

UTC: Final = timezone.utc

_TIMESTAMP_RE: Final = re.compile(
    r"(\d{4}-\d\d-\d\d)[Tt]([012]\d:\d\d:\d\d)(?:\.(\d+))?([Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)?",
    re.ASCII,
)
_fromisoformat: Final = datetime.fromisoformat
_DIGITS_TO_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")


def _fast_suffixes() -> dict[bytes, str]:
    """Shape (digits as ``0``) -> what to append so this Python's ``fromisoformat`` reads it.

    Every spelling the API sends, 0-9 fraction digits with ``Z``, ``+hh:mm``, ``-hh:mm`` or
    no offset, is probed once on a sample: a shape is kept only where ``fromisoformat(text
    + suffix)`` gives exactly `parse_timestamp`'s answer (3.11+ reads all of them; 3.10
    only 3 or 6 digits and no ``Z``). The caller still checks the result is in UTC: a
    shape cannot tell ``+00:00`` from ``+05:30`` (those take the general path).
    """
    table: dict[bytes, str] = {}
    for digits in range(10):
        fraction = "." + "123456789"[:digits] if digits else ""
        micro = int(("123456789"[:digits] + "000000")[:6])
        expected = datetime(2001, 2, 3, 4, 5, 6, micro, tzinfo=UTC)
        for offset in ("Z", "+00:00", "-00:00", ""):
            sample = f"2001-02-03T04:05:06{fraction}{offset}"
            for suffix in ("", "Z", "+00:00") if not offset else ("",):
                try:
                    result = _fromisoformat(sample + suffix)
                except ValueError:
                    continue
                if result == expected and result.tzinfo is UTC:
                    table[sample.encode().translate(_DIGITS_TO_ZERO)] = suffix
                    break
    return table


# The fast path of every reader: ``_fromisoformat(text + FAST_SUFFIX[shape])``, then a
# check that the result's tzinfo is UTC.
FAST_SUFFIX: Final = _fast_suffixes()
# The shapes ``fromisoformat`` reads as they are, always into UTC (``...Z``): no suffix to
# add and no zone to check. The API's usual timestamp.
UTC_SHAPES: Final = frozenset(
    shape for shape, suffix in FAST_SUFFIX.items() if shape[-1:] == b"Z" and not suffix
)


def _normalized(text: str) -> str:
    """``text`` rewritten to what every supported ``fromisoformat`` reads, or ValueError."""
    match = _TIMESTAMP_RE.fullmatch(text)
    if match is None:
        raise ValueError(text)
    date, time, fraction, offset = match.groups()
    fraction = "." + (fraction[:6] + "00000")[:6] if fraction else ""
    return f"{date}T{time}{fraction}{'+00:00' if offset in (None, 'Z', 'z') else offset}"


def parse_timestamp(text: str) -> datetime:
    """An aware UTC datetime from an RFC 3339 ``text``; ValueError or OverflowError if not one.

    The usual shapes are recognised by a byte translation (digits -> ``0``) and one dict
    lookup (`FAST_SUFFIX`), cheaper than a regular expression; the rest is rewritten first.
    """
    if text.isascii():
        suffix = FAST_SUFFIX.get(text.encode().translate(_DIGITS_TO_ZERO))
        if suffix is not None:
            result = _fromisoformat(text + suffix)
            if result.tzinfo is UTC:
                return result
    return _fromisoformat(_normalized(text)).astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """``2019-08-24T14:15:22.500000Z``: UTC, ``Z``, six fraction digits (none when zero).

    Six digits, not the fewest: every ISO 8601 reader takes them, Python 3.10's
    ``datetime.fromisoformat`` included (it reads only 3 or 6). A naive ``value`` is taken
    as UTC, as `parse_timestamp` reads a timestamp without offset.
    """
    if value.tzinfo is not None and value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    text = value.isoformat()  # microseconds only when non-zero; years padded to 4 digits
    if value.tzinfo is not None:
        text = text[:-6]  # "+00:00"
    return text + "Z"
