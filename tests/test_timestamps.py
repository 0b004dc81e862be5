"""Timestamps exactly per RFC 3339 (plus ASP.NET's offset-less form), both directions.

Read: ``T``/``t``, ``Z``/``z``, any number of fraction digits (truncated to microseconds),
``+hh:mm``/``-hh:mm`` or no offset (UTC). Written by `to_wire`: UTC, ``Z``,
six fraction digits, none when they are zero (``22.500000Z``, ``22Z``): what every ISO 8601
reader takes, Python 3.10's ``fromisoformat`` included.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apibricks import DecodeError, Invoice, decode_invoices
from apibricks._converter import to_wire

UTC = timezone.utc
SPEC = json.loads((Path(__file__).parent / "data" / "spec_example.json").read_text())
T = datetime(2019, 8, 24, 14, 15, 22, tzinfo=UTC)


def decode_created(text: str) -> datetime | None:
    raw: dict[str, Any] = copy.deepcopy(SPEC[0])
    raw["created"] = text
    raw["organization"]["timeCreated"] = text
    [invoice] = decode_invoices(json.dumps([raw]).encode())
    assert invoice.organization.time_created == invoice.created
    return invoice.created


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-08-24t14:15:22Z", T),
        ("2019-08-24T14:15:22z", T),
        ("2019-08-24t14:15:22z", T),
        ("2019-08-24t14:15:22.5z", T.replace(microsecond=500000)),
        ("2019-08-24t14:15:22", T),
        ("2019-08-24t16:15:22+02:00", T),
        ("2019-08-24T14:15:22.12345678Z", T.replace(microsecond=123456)),
        ("2019-08-24T14:15:22.123456789Z", T.replace(microsecond=123456)),
        ("2019-08-24T14:15:22.999999999999Z", T.replace(microsecond=999999)),
        ("2019-08-24T14:15:22.00000000000000000001Z", T),
        ("2019-08-24T16:15:22.123456789+02:00", T.replace(microsecond=123456)),
        ("2019-08-24T14:15:22.123456789", T.replace(microsecond=123456)),
    ],
)
def test_rfc3339_forms_beyond_what_dotnet_sends(text: str, expected: datetime) -> None:
    created = decode_created(text)
    assert created == expected
    assert created is not None and created.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2019-08-24x14:15:22Z",
        "2019-08-24T14:15:22Zz",
        "2019-08-24T14:15:22.z",
        "2019-08-24T14:15:22+05:60",
    ],
)
def test_near_misses_stay_rejected(text: str) -> None:
    with pytest.raises(DecodeError, match=r"\[0\]\.created: expected ISO 8601 timestamp"):
        decode_created(text)


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (T, "2019-08-24T14:15:22Z"),
        (T.replace(microsecond=500000), "2019-08-24T14:15:22.500000Z"),
        (T.replace(microsecond=120), "2019-08-24T14:15:22.000120Z"),
        (T.replace(microsecond=123456), "2019-08-24T14:15:22.123456Z"),
        (T.replace(tzinfo=None), "2019-08-24T14:15:22Z"),  # naive: taken as UTC
        (T.astimezone(timezone(timedelta(hours=-5, minutes=-30))), "2019-08-24T14:15:22Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00Z"),
    ],
)
def test_to_wire_writes_six_fraction_digits_or_none(value: datetime, wire: str) -> None:
    assert to_wire(value) == wire
    assert datetime.fromisoformat(wire.replace("Z", "+00:00")) == value.replace(
        tzinfo=value.tzinfo or UTC
    )  # what Python 3.10 reads


fraction_digits = st.text("0123456789", min_size=1, max_size=15)
offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59)


@st.composite
def wire_timestamps(draw: st.DrawFn) -> str:
    """Any accepted spelling of some instant."""
    instant = draw(st.datetimes(datetime(2, 1, 1), datetime(9998, 12, 31), timezones=st.just(UTC)))
    offset = draw(st.none() | offsets)
    zone = "" if offset is None else draw(st.sampled_from(["Z", "z", "+00:00", "-00:00", "num"]))
    if zone == "num" and offset is not None:
        sign, minutes = ("+" if offset >= 0 else "-"), abs(offset)
        local = instant + timedelta(minutes=offset)
        zone = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    else:
        local = instant
    separator = draw(st.sampled_from("Tt"))
    text = (
        local.strftime(f"%Y-%m-%d{separator}%H:%M:%S")
        if local.year >= 1000
        else (f"{local.year:04d}-{local:%m-%d}{separator}{local:%H:%M:%S}")
    )
    if draw(st.booleans()):
        text += "." + draw(fraction_digits)
    return text + zone


@given(wire_timestamps())
def test_decode_to_wire_decode_is_the_identity_on_every_accepted_form(text: str) -> None:
    first = decode_created(text)
    assert first is not None and first.tzinfo is UTC
    wire = to_wire(first)
    assert decode_created(wire) == first
    assert to_wire(decode_created(wire)) == wire  # the written form is canonical


def test_invoices_round_trip_through_to_wire() -> None:
    raw: dict[str, Any] = copy.deepcopy(SPEC[0])
    raw.update(created="2019-08-24t14:15:22.123456789z", paidDate="2019-08-24T14:15:22.5")
    invoices = decode_invoices(json.dumps([raw]))
    wire = to_wire(invoices)
    assert wire[0]["created"] == "2019-08-24T14:15:22.123456Z"
    assert wire[0]["paidDate"] == "2019-08-24T14:15:22.500000Z"
    again = decode_invoices(json.dumps(wire))
    assert again == invoices
    assert isinstance(again[0], Invoice)
