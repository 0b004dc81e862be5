"""Decoder hardening: whatever arrives, models exactly as an independent oracle says, or a
`DecodeError` naming the first bad field; never another exception.

`tests/test_converter.py` already feeds arbitrary JSON and one bad value at a time. This file
goes further:

* an *oracle*, written here from the field kinds alone (camelCase names derived by hand, its
  own timestamp grammar and calendar, its own UUID rule), predicts for any parsed body either
  every decoded attribute value or the JSON path of the first invalid value, in the order the
  design promises (invoice by invoice, field by field);
* structurally plausible payloads (several invoices, shared and distinct organizations,
  unknown fields, every accepted timestamp shape, huge integers, odd unicode) get *several*
  mutations at once: a field replaced by a value of another type, deleted, renamed, a
  timestamp of any shape (valid or not), a whole object replaced;
* the byte-level fast path (`decode_invoices` on text and bytes) must agree exactly with
  ``structure_invoices(json.loads(body))``, also for bodies crafted against its organization
  de-duplication (a decoy ``"organization":`` earlier in the body, duplicate keys, escaped key
  spellings, ``}}`` inside strings) and for random byte corruption;
* valid payloads round-trip: decode -> to_wire -> decode is the identity and to_wire is a
  fixed point.
"""

from __future__ import annotations

import calendar
import codecs
import contextlib
import copy
import itertools
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apibricks import (
    DecodeError,
    Invoice,
    Organization,
    _converter,
    _wire,
    decode_invoices,
    sandbox,
    structure_invoices,
)
from apibricks._converter import dumps, to_wire

UTC = timezone.utc
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True, params=["organization texts", "whole structs"])
def find_organizations_in_small_bodies(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test both ways of `_wire`: organizations found as texts (production takes it
    for large bodies whose texts repeat; here for any body) and decoded whole."""
    texts = request.param == "organization texts"
    monkeypatch.setattr(_converter, "_SMALL", 0)
    monkeypatch.setattr(_converter, "texts_repeat", lambda body: texts)
    _wire._decoders(True)  # msgspec imported here, not inside a timed hypothesis example
    _wire._decoders(False)


# --- the oracle -----------------------------------------------------------------------------


def camel(attribute: str) -> str:
    head, *rest = attribute.split("_")
    return head + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True)
class Field:
    name: str
    wire: str
    kind: str  # uuid | int | bool | str | timestamp | organization
    required: bool


_KIND_OF_TYPE: dict[Any, str] = {
    uuid.UUID: "uuid",
    int: "int",
    bool: "bool",
    str | None: "str",
    datetime | None: "timestamp",
    Organization: "organization",
}


def model_fields(model: type) -> tuple[Field, ...]:
    return tuple(
        Field(f.name, camel(f.name), _KIND_OF_TYPE[f.type], f.default is attrs.NOTHING)
        for f in attrs.fields(model)
    )


FIELDS: dict[type, tuple[Field, ...]] = {m: model_fields(m) for m in (Invoice, Organization)}
KINDS = ("uuid", "int", "bool", "str", "timestamp")


class Bad(Exception):
    """The oracle's verdict: the first invalid value is at ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


_TIMESTAMP = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?([Zz]|([+-])(\d\d):(\d\d))?",
    re.ASCII,
)


def oracle_timestamp(text: str) -> datetime | None:
    """The UTC instant of an accepted wire timestamp, None if it must be rejected.

    Accepted (RFC 3339): ``YYYY-MM-DDTHH:MM:SS`` (``T`` or ``t``), any number of fractional
    digits (beyond 6 truncated), then ``Z`` or ``z``,
    ``+hh:mm``/``-hh:mm`` (hh 00-23, mm 00-59) or nothing (UTC); a real calendar date and
    time; an instant datetime can hold once in UTC.
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    if not (year >= 1 and 1 <= month <= 12 and hour <= 23 and minute <= 59 and second <= 59):
        return None
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    micro = int((match[7] + "000000")[:6]) if match[7] else 0
    offset = timedelta(0)
    if match[9]:
        hours, minutes = int(match[10]), int(match[11])
        if hours > 23 or minutes > 59:
            return None
        offset = timedelta(hours=hours, minutes=minutes) * (1 if match[9] == "+" else -1)
    try:
        return datetime(year, month, day, hour, minute, second, micro) - offset
    except OverflowError:
        return None


_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def oracle_value(kind: str, value: Any, where: str) -> Any:
    if kind == "int" and type(value) is int:
        return value
    if kind == "bool" and type(value) is bool:
        return value
    if kind == "str" and (value is None or type(value) is str):
        return value
    if kind == "uuid" and type(value) is str and _UUID.fullmatch(value):
        return uuid.UUID(value)
    if kind == "timestamp":
        if value is None:
            return None
        if type(value) is str and (instant := oracle_timestamp(value)) is not None:
            return instant.replace(tzinfo=UTC)
    if kind == "organization":
        return oracle_model(Organization, value, where)
    raise Bad(where)


def oracle_model(model: type, raw: Any, path: str) -> dict[str, Any]:
    if type(raw) is not dict:
        raise Bad(path)
    values: dict[str, Any] = {}
    for field in FIELDS[model]:
        where = f"{path}.{field.wire}"
        if field.wire not in raw:
            if field.required:
                raise Bad(where)
            values[field.name] = None
            continue
        values[field.name] = oracle_value(field.kind, raw[field.wire], where)
    return values


def oracle(data: Any) -> list[dict[str, Any]]:
    """Every invoice's expected attributes (the organization as a dict), or raise `Bad`."""
    if type(data) is not list:
        raise Bad("")
    return [oracle_model(Invoice, raw, f"[{index}]") for index, raw in enumerate(data)]


def as_dicts(invoices: list[Invoice]) -> list[dict[str, Any]]:
    result = []
    for invoice in invoices:
        values = attrs.asdict(invoice, recurse=False)
        values["organization"] = attrs.asdict(invoice.organization, recurse=False)
        result.append(values)
    return result


def assert_decoded_as_the_oracle_says(data: Any, outcome: list[Invoice] | DecodeError) -> None:
    try:
        expected: list[dict[str, Any]] | Bad = oracle(data)
    except Bad as bad:
        expected = bad
    if isinstance(expected, Bad):
        assert isinstance(outcome, DecodeError), f"accepted, but {expected.path!r} is invalid"
        assert outcome.path == expected.path, (outcome, expected.path)
        return
    assert not isinstance(outcome, DecodeError), f"rejected a valid body: {outcome}"
    assert as_dicts(outcome) == expected
    for invoice in outcome:
        for value in (*attrs.astuple(invoice, recurse=False), *attrs.astuple(invoice.organization)):
            if isinstance(value, datetime):
                assert value.tzinfo is UTC, value


def outcome_of(decode: Any, body: Any) -> list[Invoice] | DecodeError:
    try:
        return decode(body)  # type: ignore[no-any-return]
    except DecodeError as error:
        return error


def same_outcome(a: list[Invoice] | DecodeError, b: list[Invoice] | DecodeError) -> bool:
    if isinstance(a, DecodeError) or isinstance(b, DecodeError):
        return type(a) is type(b) and str(a) == str(b)
    return a == b


def reference(body: bytes | str) -> list[Invoice] | DecodeError:
    """What the design defines decode_invoices to be: structure_invoices(json.loads(body))."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError alike
        return DecodeError("invalid JSON")
    return outcome_of(structure_invoices, data)


def assert_fast_path_agrees(body: bytes | str) -> list[Invoice] | DecodeError:
    expected = reference(body)
    actual = outcome_of(decode_invoices, body)
    if isinstance(expected, DecodeError) and str(expected) == "invalid JSON":
        assert isinstance(actual, DecodeError) and str(actual).startswith("invalid JSON: ")
    else:
        assert same_outcome(actual, expected), (actual, expected)
    return actual


# --- strategies -----------------------------------------------------------------------------

any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12) | st.sampled_from(
    [
        "",
        "}}",
        '"organization":{',
        '"}},"organization":{"id":1}}',
        "\\",
        '\\"',
        "\x00",
        "\u2028\u2029",
        "\ufeff",
        "\ud800",
        "\udfff\ud800",
        "null",
        "\U0001d518\U0001d52b\U0001d526 \U0001f9fe e\u0301",
        "٢٠١٩-٠٨-٢٤",
    ]
)
huge_ints = (
    st.integers()
    | st.sampled_from(
        [0, -1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1, 2**64, -(2**64) - 1]
    )
    | st.integers(-(2**300), 2**300)
)
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 5.0, 1e300])


_VALID_OFFSETS = ["", "Z", "+00:00", "-00:00", "+05:30", "-08:00", "+14:00", "-12:45", "+23:59"]
# Per component of a timestamp: near misses, some still valid (the oracle decides).
_PERTURBATIONS: dict[str, list[str]] = {
    "year": ["0000", "10000", "+02024", "24", "\u0662\u0660\u0662\u0664", "0001", "9999"],
    "month": ["00", "13", "1", "99"],
    "day": ["00", "32", "29", "30", "31", "1"],
    "hour": ["24", "25", "1", "23"],
    "minute": ["60", "99", "5"],
    "second": ["60", "61", "5", "59"],
    "fraction": ["", ".", ".12345678", ",5", ".1234567", ".0000000", ".9999999"],
    "offset": [
        *_VALID_OFFSETS,
        "z",
        "+24:00",
        "-24:00",
        "+05:60",
        "+05:99",
        "-00:60",
        "+0530",
        "+05",
        "+5:30",
        " Z",
        "UTC",
        "+05:30:00",
    ],
    "separator": ["t", " ", "_"],
    "prefix": [" ", "\n", "x", "\ufeff"],
    "suffix": [" ", "\n", "x", "\u0663", "Z"],
}


@st.composite
def timestamp_texts(draw: st.DrawFn) -> str:
    """Timestamps of every shape: a valid one (any instant, 0-7 digits, any offset, or none)
    with up to three components swapped for near misses (month 13, minute 60, ``+05:99``,
    8 digits, ``t``, a trailing newline, Arabic-Indic digits ...), so the valid/invalid
    boundary is crossed one component at a time."""
    when = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    digits = draw(st.integers(0, 7))
    parts = {
        "prefix": "",
        "year": f"{when.year:04d}",
        "month": f"{when.month:02d}",
        "day": f"{when.day:02d}",
        "separator": "T",
        "hour": f"{when.hour:02d}",
        "minute": f"{when.minute:02d}",
        "second": f"{when.second:02d}",
        "fraction": f".{when.microsecond:06d}5"[: digits + 1] if digits else "",
        "offset": draw(st.sampled_from(_VALID_OFFSETS)),
        "suffix": "",
    }
    for component in draw(st.lists(st.sampled_from(sorted(_PERTURBATIONS)), max_size=3)):
        parts[component] = draw(st.sampled_from(_PERTURBATIONS[component]))
    return (
        "{prefix}{year}-{month}-{day}{separator}{hour}:{minute}:{second}{fraction}{offset}{suffix}"
    ).format(**parts)


json_leaves = (
    st.none()
    | st.booleans()
    | huge_ints
    | floats
    | any_text
    | timestamp_texts()
    | st.uuids().map(str)
)
any_json = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            any_text | st.sampled_from(["id", "organization", "creditBalance"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=24,
)


def valid_timestamps() -> st.SearchStrategy[str]:
    """Accepted timestamp shapes only: 0-7 digits, Z / offset / nothing, any valid instant."""
    return st.builds(
        lambda when, digits, offset: (
            when.isoformat(timespec="seconds")
            + (f".{when.microsecond:06d}{digits[0]}"[: digits[1] + 1] if digits[1] else "")
            + offset
        ),
        st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
        st.tuples(st.sampled_from("0123456789"), st.integers(0, 7)),
        st.sampled_from(["", "Z", "+00:00", "-00:00", "+05:30", "-08:00", "+14:00", "-12:45"]),
    ) | st.sampled_from(
        ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999", "2024-02-29T12:00:00.1+01:00"]
    )


def valid_values(kind: str) -> st.SearchStrategy[Any]:
    if kind == "uuid":
        return st.uuids().flatmap(
            lambda u: st.sampled_from([str(u), str(u).upper(), str(u)[:9] + str(u)[9:].upper()])
        )
    if kind == "int":
        return huge_ints
    if kind == "bool":
        return st.booleans()
    if kind == "str":
        return st.none() | any_text
    return st.none() | valid_timestamps()


def _bases() -> dict[type, list[dict[str, Any]]]:
    """Realistic wire objects to start from: what the sandbox serves for a few organizations."""
    bases: dict[type, list[dict[str, Any]]] = {Invoice: [], Organization: []}
    for org in ("hardening", "zurich-like", "x"):
        invoices = json.loads(sandbox.make_invoices_payload(f"sk_sandbox_{org}", 3))
        bases[Organization].append(invoices[0]["organization"])
        bases[Invoice] += [{**invoice, "organization": None} for invoice in invoices]
    return bases


BASES = _bases()


@st.composite
def wire_object(draw: st.DrawFn, model: type) -> dict[str, Any]:
    """A valid wire object of ``model``: a realistic one with some fields redrawn (any valid
    value, null, or missing when optional) and maybe unknown fields. The caller fills in the
    organization field (left as None, in its documented position)."""
    raw = copy.deepcopy(draw(st.sampled_from(BASES[model])))
    redrawn = st.sampled_from([f for f in FIELDS[model] if f.kind != "organization"])
    for field in draw(st.lists(redrawn, max_size=8, unique=True)):
        if not field.required and draw(st.integers(0, 4)) == 0:
            del raw[field.wire]  # a missing optional field
        else:
            raw[field.wire] = draw(valid_values(field.kind))
    for name, value in draw(
        st.lists(st.tuples(any_text | st.just("CreditBalance"), any_json), max_size=2)
    ):
        if name not in raw:
            raw[name] = value  # an unknown field: ignored, never an error
    return raw


@st.composite
def valid_payloads(draw: st.DrawFn, max_invoices: int = 4) -> list[dict[str, Any]]:
    """Invoices over 1-2 organizations; invoices of one organization share its dict (so the
    JSON text repeats it byte for byte, as the API does), sometimes as an equal copy."""
    organizations = draw(st.lists(wire_object(Organization), min_size=1, max_size=2))
    invoices = draw(st.lists(wire_object(Invoice), max_size=max_invoices))
    for invoice in invoices:
        organization = draw(st.sampled_from(organizations))
        invoice["organization"] = (
            copy.deepcopy(organization) if draw(st.integers(0, 3)) == 0 else organization
        )
    return invoices


OTHER_TYPES: dict[str, st.SearchStrategy[Any]] = {
    "uuid": st.uuids().map(lambda u: str(u).replace("-", ""))
    | st.uuids().map(lambda u: "{" + str(u) + "}")
    | st.uuids().map(lambda u: u.urn)
    | st.sampled_from(["", " " + str(uuid.UUID(int=1)), str(uuid.UUID(int=1)) + "\n"]),
    "int": st.sampled_from(["5", 5.0, -0.0, 1e20, True, False, "0x10", [], {}]),
    "bool": st.sampled_from([0, 1, "true", "false", "True", None, [], {}]),
    "str": st.sampled_from([0, 5, True, 1.5, [], {}, ["a"], {"a": "b"}]),
    "timestamp": st.sampled_from([0, 1566656122, True, 1.5, [], {}, "", "now"]) | timestamp_texts(),
}


def wrong_type(kind: str) -> st.SearchStrategy[Any]:
    """A value of another kind (valid there, usually invalid here) or a near miss."""
    others = [valid_values(other) for other in KINDS if other != kind]
    return st.one_of(*others, OTHER_TYPES.get(kind, st.nothing()), any_json)


@st.composite
def mutated_payloads(draw: st.DrawFn) -> Any:
    data: Any = draw(valid_payloads(max_invoices=3).filter(bool))
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(data) - 1))
        model = draw(st.sampled_from([Invoice, Organization]))
        target = data[index]
        if model is Organization and type(target) is dict:
            if type(target.get("organization")) is dict and draw(st.booleans()):
                target["organization"] = copy.deepcopy(target["organization"])  # unshare
            target = target.get("organization")
        if type(target) is not dict:
            continue
        field = draw(st.sampled_from(FIELDS[model]))
        action = draw(
            st.sampled_from(["wrong type", "wrong type", "any", "timestamp", "delete", "rename"])
        )
        if action == "delete":
            target.pop(field.wire, None)
        elif action == "rename":  # a near-miss spelling: an unknown field, the real one missing
            if field.wire in target:
                spelled = draw(st.sampled_from([field.wire.upper(), field.name, field.wire + " "]))
                target[spelled] = target.pop(field.wire)
        elif action == "any":
            target[field.wire] = draw(any_json)
        elif action == "timestamp":
            target[field.wire] = draw(timestamp_texts())
        else:
            target[field.wire] = draw(wrong_type(field.kind))
    whole = draw(st.integers(0, 19))
    if whole == 0:  # a whole invoice that is not an object
        data[draw(st.integers(0, len(data) - 1))] = draw(json_leaves | st.lists(json_leaves))
    elif whole == 1:  # not an array at all
        data = {"invoices": data} if draw(st.booleans()) else data[0]
    return data


def body_forms(data: Any) -> list[bytes | str]:
    text = json.dumps(data, separators=(",", ":"))
    return [text, text.encode(), json.dumps(data, ensure_ascii=False, indent=1)]


# --- properties -----------------------------------------------------------------------------


@SETTINGS
@given(mutated_payloads())
def test_mutated_payloads_decode_exactly_as_the_oracle_says(data: Any) -> None:
    parsed = outcome_of(structure_invoices, copy.deepcopy(data))
    assert_decoded_as_the_oracle_says(data, parsed)
    for body in body_forms(data):
        assert same_outcome(outcome_of(decode_invoices, body), parsed), body[:300]


@SETTINGS
@given(any_json)
def test_any_json_value_decodes_exactly_as_the_oracle_says(data: Any) -> None:
    parsed = outcome_of(structure_invoices, data)
    assert_decoded_as_the_oracle_says(data, parsed)
    for body in body_forms(data)[:2]:
        assert same_outcome(outcome_of(decode_invoices, body), parsed)


@SETTINGS
@given(valid_payloads(max_invoices=2).filter(bool), timestamp_texts(), st.booleans())
def test_every_timestamp_shape_is_taken_exactly_when_valid(
    data: list[dict[str, Any]], text: str, in_organization: bool
) -> None:
    target = data[-1]["organization"] if in_organization else data[-1]
    target["created" if not in_organization else "timeCreated"] = text
    outcome = outcome_of(decode_invoices, json.dumps(data))
    assert_decoded_as_the_oracle_says(data, outcome)


@SETTINGS
@given(valid_payloads())
def test_valid_payloads_round_trip(data: list[dict[str, Any]]) -> None:
    first = decode_invoices(json.dumps(data))
    assert_decoded_as_the_oracle_says(data, first)
    wire = to_wire(first)
    assert structure_invoices(wire) == first
    assert decode_invoices(dumps(first)) == first
    if _encodable(dumps(first)):  # see test_dumps_gives_text_that_utf8_can_encode
        assert decode_invoices(dumps(first).encode()) == first
    assert to_wire(decode_invoices(dumps(first))) == wire  # the wire form is canonical
    for raw, invoice in zip(wire, first, strict=True):
        assert list(raw) == [field.wire for field in FIELDS[Invoice]]
        assert list(raw["organization"]) == [field.wire for field in FIELDS[Organization]]
        for value in (raw["created"], raw["organization"]["timeCreated"]):
            assert value is None or value.endswith("Z")
        assert raw["idOrganization"] == str(invoice.id_organization)
    # Invoices whose organization was the same text share one instance, before and after
    # (when no other text with the same id comes between them: one cache entry per id).
    texts = [json.dumps(raw["organization"]) for raw in data]
    ids = [raw["organization"].get("id") for raw in data]
    again = decode_invoices(dumps(first))
    for i, j in itertools.combinations(range(len(data)), 2):
        same_id_between = {texts[k] for k in range(i, j + 1) if ids[k] == ids[i]}
        if texts[i] == texts[j] and len(same_id_between) == 1 and "NaN" not in texts[i]:
            assert first[i].organization is first[j].organization
            assert again[i].organization is again[j].organization


_PLACEHOLDER_KEY, _PLACEHOLDER_VALUE = "zzPlaceholderKeyzz", "zzPlaceholderValuezz"


@SETTINGS
@given(
    valid_payloads(max_invoices=3).filter(bool),
    st.data(),
    st.sampled_from([b"\xff", b"\xc3", b"\x80", b"\xed\xa0", b"\xf0\x9f\x98", b"\xc3\xa9"]),
    st.sampled_from(["key", "value", "nested value", "nested key"]),
)
def test_utf8_of_an_unknown_field_anywhere_is_checked(
    data: list[dict[str, Any]], draw: st.DataObject, inserted: bytes, spot: str
) -> None:
    """msgspec checks the UTF-8 only of what it decodes, not of the unknown fields it
    skips: valid or not, bytes there must decode as ``json.loads`` reads them, in any
    invoice or organization, as a key, a value or nested inside one."""
    target = draw.draw(st.sampled_from([*data, *(invoice["organization"] for invoice in data)]))
    value: Any = _PLACEHOLDER_VALUE
    if spot == "nested value":
        value = {"a": [1, _PLACEHOLDER_VALUE]}
    elif spot == "nested key":
        value = [{_PLACEHOLDER_KEY: None}]
    target["k" + (_PLACEHOLDER_KEY if spot == "key" else "")] = value
    body = json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")
    placeholder = _PLACEHOLDER_KEY if "key" in spot else _PLACEHOLDER_VALUE
    assert body.count(placeholder.encode()) >= 1
    assert_fast_path_agrees(body.replace(placeholder.encode(), inserted))


@SETTINGS
@given(
    valid_payloads(max_invoices=4).filter(bool),
    st.lists(valid_values("uuid") | OTHER_TYPES["uuid"] | any_text, min_size=1, max_size=8),
    st.data(),
)
def test_any_uuid_spelling_at_any_uuid_field_decodes_like_json_loads(
    data: list[dict[str, Any]], texts: list[Any], draw: st.DataObject
) -> None:
    """UUIDs are built many at once (msgspec reads the checked texts as one list): the
    result, or the error and its path, is what the builders give one by one."""
    for text in texts:
        invoice = draw.draw(st.sampled_from(data))
        if draw.draw(st.booleans()):
            invoice["idOrganization"] = text
        else:
            invoice["organization"] = {**invoice["organization"], "id": text}
    for body in body_forms(data):
        outcome = assert_fast_path_agrees(body)
        if not isinstance(outcome, DecodeError):
            for raw, invoice in zip(data, outcome, strict=True):
                assert invoice.id_organization == uuid.UUID(raw["idOrganization"])
                assert type(invoice.id_organization) is uuid.UUID


# --- the byte-level fast path against json.loads --------------------------------------------


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


@st.composite
def crafted_bodies(draw: st.DrawFn) -> str:
    """Valid-looking bodies built to confuse a search for the repeated organization text."""
    data = draw(valid_payloads(max_invoices=3))
    decoy = draw(valid_payloads(max_invoices=1).filter(bool))[0]["organization"]
    text = json.dumps(data, separators=(",", ":"))
    decoy_text = json.dumps(decoy, separators=(",", ":"))
    trick = draw(st.integers(0, 7))
    if trick == 0:  # a duplicate "organization" key before the real one: the last one wins
        text = text.replace(
            '{"idOrganization"', '{"organization":' + decoy_text + ',"idOrganization"', 1
        )
    elif trick == 1:  # ... and after it
        text = text.replace("}}", '},"organization":' + decoy_text + "}", 1)
    elif trick == 2:  # a key that only ends in organization, holding the real organization
        if data:
            org = json.dumps(data[0]["organization"], separators=(",", ":"))
            text = text.replace("[{", '[{"x\\"organization":' + org + ",", 1)
    elif trick == 3:  # the key spelled with an escape: the same key to a JSON parser
        text = text.replace('"organization":', '"organiz\\u0061tion":', draw(st.integers(1, 2)))
    elif trick == 4:  # whitespace around the colon and inside the object
        text = text.replace('"organization":{', '"organization" :\n { ', draw(st.integers(1, 2)))
    elif trick == 5:  # the organization text inside a string value
        text = text.replace(
            '"id":', '"note":' + json.dumps('"organization":' + decoy_text) + ',"id":', 1
        )
    elif trick == 6:  # an unknown nested object closing right before the organization does
        text = text.replace('"id":', '"nested":{"a":{"b":{}}},"id":', draw(st.integers(1, 3)))
    return text


@SETTINGS
@given(crafted_bodies(), st.booleans())
def test_crafted_bodies_decode_like_json_loads(text: str, as_bytes: bool) -> None:
    body: bytes | str = text.encode() if as_bytes and _encodable(text) else text
    assert_fast_path_agrees(body)


@SETTINGS
@given(
    valid_payloads(max_invoices=3),
    st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=0, max_size=3)), max_size=4),
    st.integers(0, 3),
)
def test_corrupted_bytes_decode_like_json_loads(
    data: list[Any], edits: list[tuple[int, bytes]], encoding: int
) -> None:
    body = json.dumps(data, ensure_ascii=encoding != 0).encode("utf-8", "surrogatepass")
    for position, replacement in edits:
        position %= len(body) + 1
        body = body[:position] + replacement + body[position + len(replacement) % 2 :]
    if encoding == 2:
        body = codecs.BOM_UTF8 + body
    elif encoding == 3:
        with contextlib.suppress(UnicodeDecodeError):
            body = body.decode().encode("utf-16")
    assert_fast_path_agrees(body)


# --- explicit edge cases ----------------------------------------------------------------------


def _valid_body() -> list[dict[str, Any]]:
    org = {f.wire: 0 for f in FIELDS[Organization] if f.kind == "int"}
    org["id"] = "497f6eca-6276-4993-bfeb-53cbbbba6f08"
    invoice: dict[str, Any] = {"idOrganization": org["id"], "paid": True, "voided": False}
    invoice.update(uncollectible=False, amountUsdCents=1, organization=org)
    return [invoice, copy.deepcopy(invoice)]


@pytest.mark.parametrize("depth", [10, 900, 5_000, 100_000])
def test_absurd_nesting_is_ignored_or_a_decode_error(depth: int) -> None:
    def nested() -> list[Any]:
        root: list[Any] = []
        cursor = root
        for _ in range(depth):
            cursor.append([])
            cursor = cursor[0]
        return root

    data = _valid_body()
    for invoice in data:  # distinct objects: comparing them really recurses
        invoice["extra"] = nested()
        invoice["organization"]["extra"] = nested()
    assert len(structure_invoices(data)) == 2  # unknown fields, however deep: ignored
    brackets = "[" * depth + "]" * depth
    with pytest.raises(DecodeError):
        decode_invoices(brackets)
    with pytest.raises(DecodeError):
        structure_invoices(nested())
    body = json.dumps(_valid_body())
    deep_unknown = body.replace('"paid":', f'"extra":{brackets},"paid":')
    outcome = assert_fast_path_agrees(deep_unknown)
    assert isinstance(outcome, list) or str(outcome).startswith("invalid JSON")
    assert_fast_path_agrees(body[:-1] + "," + brackets + "]")


@pytest.mark.parametrize(
    "offset", ["+05:60", "+05:99", "-00:60", "+23:75"], ids=lambda offset: offset
)
def test_an_offset_with_minutes_beyond_59_is_rejected(offset: str) -> None:
    """ISO 8601 / RFC 3339 offsets are hh:mm with mm 00-59. ``datetime.fromisoformat`` reads
    ``+05:99`` as +06:39 (every Python 3.10-3.13): accepting it turns a malformed timestamp
    into a plausible, wrong instant in a finance report instead of a DecodeError."""
    data = _valid_body()
    data[1]["paidDate"] = f"2024-03-01T10:00:00{offset}"
    with pytest.raises(DecodeError, match=r"^\[1\]\.paidDate: expected ISO 8601 timestamp"):
        decode_invoices(json.dumps(data))
    with pytest.raises(DecodeError, match=r"^\[1\]\.paidDate: "):
        structure_invoices(data)


def test_dumps_gives_text_that_utf8_can_encode() -> None:
    """A JSON string may hold a lone surrogate as an escape (``"\\ud800"``): valid JSON that
    json.loads and the decoder accept. ``dumps`` writes it back raw (``ensure_ascii=False``
    after orjson refuses it), so ``dumps(...).encode()`` or writing it to a UTF-8 file raises
    UnicodeEncodeError. It should escape what UTF-8 cannot carry."""
    data = _valid_body()
    data[0]["status"] = "\ud800"
    invoices = decode_invoices(json.dumps(data))
    assert invoices[0].status == "\ud800"
    text = dumps(invoices)
    assert decode_invoices(text.encode("utf-8")) == invoices


def test_the_oracle_itself_on_known_answers() -> None:
    """The oracle is test code: pin it to hand-checked answers so it cannot drift."""
    assert oracle_timestamp("2019-08-24T14:15:22Z") == datetime(2019, 8, 24, 14, 15, 22)
    assert oracle_timestamp("2019-08-24T14:15:22.1234567+02:00") == datetime(
        2019, 8, 24, 12, 15, 22, 123456
    )
    assert oracle_timestamp("2019-08-24T14:15:22") == datetime(2019, 8, 24, 14, 15, 22)
    assert oracle_timestamp("2019-08-24t14:15:22.12345678z") == datetime(
        2019, 8, 24, 14, 15, 22, 123456
    )
    for bad in (
        "2019-08-24 14:15:22Z",
        "2019-02-29T00:00:00Z",
        "0001-01-01T00:00:00+00:01",
        "2019-08-24T14:15:22+0200",
        "2019-08-24T24:00:00Z",
        "2019-08-24T14:15:22.Z",
    ):
        assert oracle_timestamp(bad) is None, bad
    assert [f.wire for f in FIELDS[Invoice]][-2:] == ["currency", "organization"]
    assert camel("total_paid_usd_last_w") == "totalPaidUsdLastW"
    assert camel("address1") == "address1"
    with pytest.raises(Bad) as bad:
        oracle([{"idOrganization": str(uuid.UUID(int=0))}])
    assert bad.value.path == "[0].paid"
