"""RFC 3339 timestamps, as the Console API writes them, to and from aware UTC datetimes.

Read: ``YYYY-MM-DDTHH:MM:SS``, any number of fraction digits (past microseconds truncated,
as .NET writes 7), then ``Z``, ``+hh:mm``, ``-hh:mm`` or nothing (ASP.NET's unspecified
kind, read as UTC); ``T`` and ``Z`` in either case, as RFC 3339 allows. Write:
`format_timestamp`, UTC with ``Z`` and six fraction digits (none when they are zero).
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timezone
from typing import Final

__all__ = ["format_timestamp", "parse_timestamp"]

UTC: Final = timezone.utc

_TIMESTAMP_RE: Final = re.compile(
    r"(\d{4}-\d\d-\d\d)[Tt]([012]\d:\d\d:\d\d)(?:\.(\d+))?([Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)?",
    re.ASCII,
)
_fromisoformat: Final = datetime.fromisoformat
_DIGITS_TO_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")


def _native_shapes() -> frozenset[bytes]:
    """Shapes (digits as ``0``) this Python's ``fromisoformat`` reads exactly as RFC 3339.

    3.11+ takes ``Z`` and any number of fraction digits (truncating); 3.10 only ``+hh:mm``
    and 3 or 6 digits. Everything else goes through `_normalized`.
    """
    native = sys.version_info >= (3, 11)
    digits = range(1, 10) if native else (3, 6)
    fractions = [b""] + [b"." + b"0" * n for n in digits]
    offsets = [b"", b"+00:00", b"-00:00"] + ([b"Z"] if native else [])
    base = b"0000-00-00T00:00:00"
    return frozenset(base + fraction + offset for fraction in fractions for offset in offsets)


_NATIVE: Final = _native_shapes()


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

    The usual shapes are recognised by a byte translation (digits -> ``0``) and one set
    lookup, cheaper than a regular expression; the rest is rewritten first.
    """
    if text.encode().translate(_DIGITS_TO_ZERO) in _NATIVE:
        result = _fromisoformat(text)
        tz = result.tzinfo
        if tz is UTC:
            return result
        if tz is None:  # no offset: UTC. Parsing again beats the slow .replace(tzinfo=)
            return _fromisoformat(text + "+00:00")
        if text[-2] > "5":  # fromisoformat takes "+05:60" as 6 hours
            raise ValueError(text)
    else:
        result = _fromisoformat(_normalized(text))
    return result.astimezone(UTC)


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
