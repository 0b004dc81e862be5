"""Decoding and encoding: the documented example, timestamps, strictness, paths, sharing."""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import apibricks
from apibricks import (
    DecodeError,
    Invoice,
    Organization,
    _build,
    _converter,
    _wire,
    decode_invoices,
    structure_invoices,
)
from apibricks._converter import converter, dumps, to_wire, wire_name

UTC = timezone.utc
SPEC_BODY = (Path(__file__).parent / "data" / "spec_example.json").read_text()
SPEC = json.loads(SPEC_BODY)


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


WHEN = datetime(2019, 8, 24, 14, 15, 22, tzinfo=UTC)

# Both entry points, so every scenario runs through the byte-level shortcut and without it.
Decode = Callable[[list[Any]], list[Invoice]]
DECODERS: dict[str, Decode] = {
    "bytes": lambda data: decode_invoices(json.dumps(data, separators=(",", ":")).encode()),
    "str": lambda data: decode_invoices(json.dumps(data)),
    "parsed": lambda data: structure_invoices(copy.deepcopy(data)),
}


@pytest.fixture(params=list(DECODERS))
def decode(request: pytest.FixtureRequest) -> Decode:
    return DECODERS[request.param]


def snake(camel: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()


def raw_invoice(index: int = 0, **changes: Any) -> dict[str, Any]:
    """A realistic wire invoice (spec field order), with ``changes`` applied."""
    raw: dict[str, Any] = copy.deepcopy(SPEC[0])
    raw.update(
        id=f"in_{index:024d}",
        invoiceNumber=f"ABCD-{index:04d}",
        created="2024-03-01T10:00:00.1234567Z",
        amountUsdCents=1000 + index,
        status="paid",
        currency="usd",
    )
    raw["organization"].update(name="Acme", creditBalance=5000, tier="pro")
    raw.update(changes)
    return raw


def with_org(raw: dict[str, Any], **changes: Any) -> dict[str, Any]:
    raw["organization"].update(changes)
    return raw


# --- the documented example ---


def expected_value(wire: str, value: Any) -> Any:
    if wire in ("idOrganization", "id") and isinstance(value, str) and "-" in value:
        return uuid.UUID(value)
    if value == "2019-08-24T14:15:22Z":
        return WHEN
    return value  # "string", 0, True as documented


def test_documented_example_decodes_field_by_field() -> None:
    [invoice] = decode_invoices(SPEC_BODY)
    checked = 0
    for obj, wire in ((invoice, SPEC[0]), (invoice.organization, SPEC[0]["organization"])):
        for name, value in wire.items():
            if name == "organization":
                continue
            actual = getattr(obj, snake(name))
            assert actual == expected_value(name, value), name
            assert type(actual) is type(expected_value(name, value)), name
            checked += 1
    assert checked == 12 + 53
    assert isinstance(invoice.organization, Organization)  # and the 66th field
    assert invoice.id_organization == uuid.UUID("9bf7f388-1dbc-4a73-92b2-4ad35e7fe880")
    assert invoice.organization.id == uuid.UUID("497f6eca-6276-4993-bfeb-53cbbbba6f08")
    assert invoice.amount_usd_cents == 0
    assert invoice.paid is invoice.voided is invoice.uncollectible is True
    assert invoice.organization.total_paid_usd_last_w == 0
    assert invoice.organization.postal_code == "string"
    assert invoice.created is not None and invoice.created.tzinfo is UTC


def test_wire_names_are_derived_not_listed() -> None:
    for model, wire in ((Invoice, SPEC[0]), (Organization, SPEC[0]["organization"])):
        assert [wire_name(model, f.name) for f in attrs.fields(model)] == list(wire)


# --- timestamps ---

T = datetime(2019, 8, 24, 14, 15, 22, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-08-24T14:15:22Z", T),
        ("2019-08-24T14:15:22", T),  # no offset: UTC
        ("2019-08-24T14:15:22+00:00", T),
        ("2019-08-24T14:15:22-00:00", T),
        ("2019-08-24T16:15:22+02:00", T),
        ("2019-08-24T08:45:22-05:30", T),
        ("2019-08-25T00:15:22+10:00", T),
        ("2019-08-23T23:15:22-15:00", T),
        ("2019-08-24T14:15:22.1Z", T.replace(microsecond=100000)),
        ("2019-08-24T14:15:22.12Z", T.replace(microsecond=120000)),
        ("2019-08-24T14:15:22.123Z", T.replace(microsecond=123000)),
        ("2019-08-24T14:15:22.1234Z", T.replace(microsecond=123400)),
        ("2019-08-24T14:15:22.12345", T.replace(microsecond=123450)),
        ("2019-08-24T14:15:22.123456Z", T.replace(microsecond=123456)),
        ("2019-08-24T14:15:22.1234567Z", T.replace(microsecond=123456)),  # truncated
        ("2019-08-24T14:15:22.9999999Z", T.replace(microsecond=999999)),  # never rounded up
        ("2019-08-24T14:15:22.9999999", T.replace(microsecond=999999)),
        ("2019-08-24T16:15:22.9999999+02:00", T.replace(microsecond=999999)),
        ("2019-08-24T14:15:22.0000001Z", T),
        ("2019-08-24T14:15:22.000Z", T),
        ("2020-01-01T00:30:00+01:00", datetime(2019, 12, 31, 23, 30, tzinfo=UTC)),
        ("2024-02-29T23:59:59.5Z", datetime(2024, 2, 29, 23, 59, 59, 500000, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
        ("9999-12-31T23:59:59.9999999Z", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_timestamp_matrix(text: str, expected: datetime, decode: Decode) -> None:
    [invoice] = decode([with_org(raw_invoice(created=text), timeCreated=text)])
    assert invoice.created == expected
    assert invoice.created is not None and invoice.created.tzinfo is UTC
    assert invoice.organization.time_created == expected
    assert invoice.organization.time_created.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "2019-08-24",  # date only
        "2019-08-24 14:15:22Z",  # space separator
        "20190824T141522Z",  # basic format
        "2019-08-24T14:15Z",  # no seconds
        "2019-08-24T14Z",
        "2019-08-24T14:15:22.Z",  # dot, no digits
        "2019-08-24T14:15:22,5Z",  # comma fraction
        "2019-08-24T14:15:22+0200",
        "2019-08-24T14:15:22+02",
        "2019-08-24T14:15:22+02:00:00",
        "2019-08-24T14:15:22Z+02:00",
        "2019-08-24T14:15:22 ",
        " 2019-08-24T14:15:22",
        "2019-W34-6T14:15:22Z",  # week date
        "2019-13-24T14:15:22Z",  # month 13
        "2019-02-30T14:15:22Z",
        "2019-08-24T24:00:00Z",
        "2019-08-24T14:60:22Z",
        "2019-08-24T14:15:60Z",  # leap second
        "2019-08-24T14:15:22+24:00",
        "0001-01-01T00:00:00+01:00",  # before year 1 once in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 once in UTC
        "\uff12019-08-24T14:15:22Z",  # a full-width digit
        "2019-08-24T14:15:22\u00a0",
        "+2019-08-24T14:15:22Z",
    ],
)
def test_rejected_timestamp_shapes(text: str, decode: Decode) -> None:
    with pytest.raises(DecodeError) as caught:
        decode([raw_invoice(), raw_invoice(1, paidDate=text)])
    assert str(caught.value) == f"[1].paidDate: expected ISO 8601 timestamp, got {text!r}"
    assert caught.value.path == "[1].paidDate"


def test_a_long_bad_string_is_shortened_in_the_message() -> None:
    with pytest.raises(DecodeError) as caught:
        structure_invoices([raw_invoice(dueDate="x" * 10_000)])
    assert len(str(caught.value)) < 120


# --- null, missing, unknown ---


def test_null_and_missing_optional_fields_are_none(decode: Decode) -> None:
    nullable_invoice = [f for f in attrs.fields(Invoice) if f.default is None]
    nullable_org = [f for f in attrs.fields(Organization) if f.default is None]
    as_null = raw_invoice()
    as_null.update({wire_name(Invoice, f.name): None for f in nullable_invoice})
    as_null["organization"].update({wire_name(Organization, f.name): None for f in nullable_org})
    missing = raw_invoice(1)
    for field in nullable_invoice:
        del missing[wire_name(Invoice, field.name)]
    for field in nullable_org:
        del missing["organization"][wire_name(Organization, field.name)]
    for invoice in decode([as_null, missing]):
        assert all(getattr(invoice, f.name) is None for f in nullable_invoice)
        assert all(getattr(invoice.organization, f.name) is None for f in nullable_org)
        assert invoice.amount_usd_cents in (1000, 1001)
        assert invoice.organization.credit_balance == 5000


def test_unknown_fields_are_ignored_at_both_levels(decode: Decode) -> None:
    extra: dict[str, Any] = {"newField": [1, {"deep": None}], "amountEur": 1.5, "organizationX": {}}
    raw = with_org(raw_invoice(**extra), **extra, legacy=None)
    [invoice] = decode([raw])
    assert invoice == decode([raw_invoice()])[0]


def test_unknown_fields_with_values_orjson_refuses_are_still_ignored() -> None:
    body = SPEC_BODY.replace(
        '"paid": true', '"big": 123456789012345678901234567890, "nan": NaN, "paid": true'
    )
    [invoice] = decode_invoices(body.encode())
    assert invoice == decode_invoices(SPEC_BODY)[0]


@pytest.mark.parametrize(
    "unknown",
    [
        b'"note": "caf\xc3"',  # a truncated sequence in an unknown field's value
        b'"n\x80te": 1',  # a stray continuation byte in an unknown key
        b'"note": ["\xff"]',  # nested in an unknown array
        b'"organizationNote": {"x\xc3\x28": 1}',  # an invalid pair, nested deeper
    ],
)
@pytest.mark.parametrize("where", ["invoice", "organization"])
def test_invalid_utf8_where_msgspec_skips_is_refused_as_json_loads_refuses(
    unknown: bytes, where: str
) -> None:
    """msgspec checks the UTF-8 of the values it decodes, not of the fields it skips."""
    anchor = b'"paid": true' if where == "invoice" else b'"stripeId": "string"'
    body = SPEC_BODY.encode().replace(anchor, unknown + b", " + anchor)
    assert body != SPEC_BODY.encode()
    with pytest.raises(UnicodeDecodeError):
        json.loads(body)
    with pytest.raises(DecodeError, match=r"^invalid JSON: "):
        decode_invoices(body)


def test_a_surrogate_encoded_in_utf8_where_msgspec_skips_is_read_as_json_loads_reads_it() -> None:
    """``json.loads`` reads bytes with ``surrogatepass``: such a body is a valid body."""
    body = SPEC_BODY.encode().replace(b'"paid": true', b'"note": "\xed\xa0\x80", "paid": true')
    assert json.loads(body)[0]["note"] == "\ud800"
    assert decode_invoices(body) == decode_invoices(SPEC_BODY)


def test_integers_beyond_int64_are_kept_exactly() -> None:
    [invoice] = decode_invoices(json.dumps([raw_invoice(amountUsdCents=2**70)]))
    assert invoice.amount_usd_cents == 2**70
    assert decode_invoices(dumps([invoice])) == [invoice]


# --- wrong types: a DecodeError naming the wire path ---

BAD_VALUES: list[tuple[str, Any, str]] = [
    ("organization.creditBalance", "5", "expected int, got str"),
    ("organization.creditBalance", 5.0, "expected int, got float"),
    ("organization.creditBalance", True, "expected int, got bool"),
    ("organization.creditBalance", None, "expected int, got null"),
    ("organization.creditBalance", [5], "expected int, got array"),
    ("organization.autoRechargeEnabled", False, "expected int, got bool"),
    ("amountUsdCents", "1000", "expected int, got str"),
    ("amountUsdCents", 10.5, "expected int, got float"),
    ("amountUsdCents", {}, "expected int, got object"),
    ("paid", "true", "expected bool, got str"),
    ("paid", 1, "expected bool, got int"),
    ("paid", None, "expected bool, got null"),
    ("status", 5, "expected str or null, got int"),
    ("currency", True, "expected str or null, got bool"),
    ("organization.postalCode", 75002, "expected str or null, got int"),
    ("organization.name", ["Acme"], "expected str or null, got array"),
    ("created", 1566656122, "expected ISO 8601 timestamp or null, got int"),
    ("organization.timeCreated", {}, "expected ISO 8601 timestamp or null, got object"),
    ("idOrganization", "not-a-uuid", "expected UUID, got 'not-a-uuid'"),
    ("idOrganization", None, "expected UUID string, got null"),
    ("idOrganization", 5, "expected UUID string, got int"),
    ("idOrganization", "9bf7f3881dbc4a7392b24ad35e7fe880", "expected UUID, got "),
    ("organization.id", "{497f6eca-6276-4993-bfeb-53cbbbba6f08}", "expected UUID, got "),
    ("organization.id", "497f6eca-6276-4993-bfeb-53cbbbba6f0g", "expected UUID, got "),
    ("organization", None, "expected object, got null"),
    ("organization", "Acme", "expected object, got str"),
    ("organization", [], "expected object, got array"),
]


@pytest.mark.parametrize(("where", "value", "message"), BAD_VALUES)
def test_wrong_type_names_the_wire_path(
    where: str, value: Any, message: str, decode: Decode
) -> None:
    data = [raw_invoice(index) for index in range(5)]
    target = data[3]
    *parents, leaf = where.split(".")
    for parent in parents:
        target = target[parent]
    target[leaf] = value
    with pytest.raises(DecodeError) as caught:
        decode(data)
    assert str(caught.value).startswith(f"[3].{where}: {message}")
    assert caught.value.path == f"[3].{where}"


def test_the_example_message_from_the_design() -> None:
    data = [raw_invoice(index) for index in range(5)]
    data[3]["organization"]["creditBalance"] = "5000"
    with pytest.raises(
        DecodeError, match=r"^\[3\]\.organization\.creditBalance: expected int, got str$"
    ):
        decode_invoices(json.dumps(data).encode())


@pytest.mark.parametrize("field", ["idOrganization", "paid", "amountUsdCents", "organization"])
def test_missing_required_invoice_field(field: str, decode: Decode) -> None:
    data = [raw_invoice(), raw_invoice(1)]
    del data[1][field]
    with pytest.raises(DecodeError, match=rf"^\[1\]\.{field}: missing required field$"):
        decode(data)


@pytest.mark.parametrize("field", ["id", "creditBalance", "spendMgmtEnabled"])
def test_missing_required_organization_field(field: str, decode: Decode) -> None:
    data = [raw_invoice(), raw_invoice(1)]
    del data[1]["organization"][field]
    with pytest.raises(
        DecodeError, match=rf"^\[1\]\.organization\.{field}: missing required field$"
    ):
        decode(data)


@pytest.mark.parametrize("item", ["invoice", 5, None, [], True])
def test_an_element_that_is_not_an_object(item: Any, decode: Decode) -> None:
    with pytest.raises(DecodeError, match=r"^\[1\]: expected object, got "):
        decode([raw_invoice(), item])


def test_a_numerically_equal_value_of_the_wrong_type_is_not_hidden_by_sharing() -> None:
    for field, value in (("creditBalance", 5000.0), ("autoRechargeEnabled", False)):
        data = [raw_invoice(), raw_invoice(1)]
        data[1]["organization"][field] = value  # == the first one's 5000 / 0
        with pytest.raises(DecodeError, match=rf"^\[1\]\.organization\.{field}: expected int"):
            structure_invoices(data)
        with pytest.raises(DecodeError, match=rf"^\[1\]\.organization\.{field}: expected int"):
            decode_invoices(json.dumps(data))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"[",
        b"[1,",
        b"{",
        b"nul",
        b"[]]",
        b"\xff\xfe",
        "[\ud800",
        b"[" * 100_000,
        "\x00",
    ],
)
def test_invalid_json(body: bytes | str) -> None:
    with pytest.raises(DecodeError, match=r"^invalid JSON: ") as caught:
        decode_invoices(body)
    assert caught.value.path == ""


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"{}", "object"),
        (b'{"invoices": []}', "object"),
        (b"null", "null"),
        (b'"x"', "str"),
        (b"1", "int"),
    ],
)
def test_top_level_not_a_list(body: bytes, kind: str) -> None:
    with pytest.raises(DecodeError, match=rf"^expected an array of invoices, got {kind}$"):
        decode_invoices(body)


@pytest.mark.parametrize("value", [None, 5, object(), ({},), {"a": 1}])
def test_not_even_a_body(value: Any) -> None:
    with pytest.raises(DecodeError):
        decode_invoices(value)
    with pytest.raises(DecodeError):
        structure_invoices(value)


def test_empty_list() -> None:
    assert decode_invoices(b"[]") == []
    assert structure_invoices([]) == []


def test_decode_error_is_an_apibricks_error_without_a_chained_traceback() -> None:
    with pytest.raises(apibricks.APIBricksError) as caught:
        decode_invoices(json.dumps([raw_invoice(paid="yes")]))
    assert isinstance(caught.value, DecodeError)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


# --- sharing one Organization per response ---


def test_invoices_of_one_organization_share_one_instance(decode: Decode) -> None:
    invoices = decode([raw_invoice(index) for index in range(50)])
    assert len({id(invoice.organization) for invoice in invoices}) == 1
    assert invoices[0].organization is invoices[49].organization
    assert invoices[0].id_organization is invoices[49].id_organization  # one UUID too
    assert [invoice.amount_usd_cents for invoice in invoices] == list(range(1000, 1050))


def test_same_id_different_content_gives_different_instances(decode: Decode) -> None:
    data = [
        raw_invoice(0),
        with_org(raw_invoice(1), name="Acme Renamed", creditBalance=1),
        raw_invoice(2),
        with_org(raw_invoice(3), name="Acme Renamed", creditBalance=1),
    ]
    first, renamed, again, renamed_again = (invoice.organization for invoice in decode(data))
    assert first.id == renamed.id
    assert first is not renamed
    assert (first.name, first.credit_balance) == ("Acme", 5000)
    assert (renamed.name, renamed.credit_balance) == ("Acme Renamed", 1)
    assert again == first and renamed_again == renamed


def test_several_organizations_each_decoded_once(decode: Decode) -> None:
    ids = [str(uuid.UUID(int=n)) for n in range(3)]
    data = [with_org(raw_invoice(index), id=ids[index % 3]) for index in range(30)]
    invoices = decode(data)
    assert len({id(invoice.organization) for invoice in invoices}) == 3
    assert [str(invoice.organization.id) for invoice in invoices] == [ids[i % 3] for i in range(30)]


def test_differently_spelled_copies_of_the_organization() -> None:
    """Key order, spacing, escapes: equal content decodes the same; sharing is best effort."""
    org = SPEC[0]["organization"]
    spellings = [
        json.dumps(org, separators=(",", ":")),
        json.dumps(org),
        json.dumps(dict(reversed(org.items())), separators=(",", ":")),
        json.dumps(org, separators=(",", ":")).replace('"string"', '"\\u0073tring"'),
    ]
    parts = [json.dumps(raw_invoice(i))[:-1].split('"organization"')[0] for i in range(4)]
    body = (
        "["
        + ",".join(
            f'{part}"organization":{text}}}' for part, text in zip(parts, spellings, strict=True)
        )
        + "]"
    )
    invoices = decode_invoices(body.encode())
    assert all(invoice.organization == invoices[0].organization for invoice in invoices)
    assert invoices == structure_invoices(json.loads(body))


def test_the_organization_text_elsewhere_in_the_body_changes_nothing() -> None:
    """The byte-level shortcut must not touch look-alikes: strings, other keys, nesting."""
    org = raw_invoice()["organization"]
    org_text = json.dumps(org, separators=(",", ":"))
    tricky = [
        raw_invoice(0),
        raw_invoice(1, status='"organization":' + org_text),
        raw_invoice(2, **{'x"organization': org}),
        raw_invoice(3, extra={"organization": org}),
        raw_invoice(4, organizations=[org]),
        raw_invoice(5),
    ]
    body = json.dumps(tricky, separators=(",", ":"))
    assert body.count('"organization":' + org_text) > 6
    invoices = decode_invoices(body.encode())
    assert invoices == structure_invoices(json.loads(body))
    assert invoices[1].status == '"organization":' + org_text
    assert len({id(invoice.organization) for invoice in invoices}) == 1


def interleaved(orgs: int, per_org: int) -> list[dict[str, Any]]:
    """``per_org`` invoices of each of ``orgs`` organizations, round-robin."""
    ids = [str(uuid.UUID(int=n + 1)) for n in range(orgs)]
    return [
        with_org(raw_invoice(index), id=ids[index % orgs], creditBalance=index % orgs)
        for index in range(orgs * per_org)
    ]


def distinct_organization_dicts(body: bytes | str) -> int:
    """How many organization dicts the parser step made: one per distinct text."""
    wire = _wire.wire_invoices(body, True)
    assert wire is not None
    return len({id(invoice.organization) for invoice in wire})


def test_interleaved_organizations_are_each_parsed_once(decode: Decode) -> None:
    data = interleaved(30, 4)
    body = json.dumps(data, separators=(",", ":")).encode()
    assert distinct_organization_dicts(body) == 30  # one parse per distinct text
    invoices = decode(data)
    assert invoices == structure_invoices(copy.deepcopy(data))
    assert len({id(invoice.organization) for invoice in invoices}) == 30
    assert all(invoices[i].organization is invoices[i + 30].organization for i in range(90))


def test_a_bad_organization_among_many(decode: Decode) -> None:
    data = interleaved(30, 4)
    for raw in data[17::30]:
        raw["organization"]["pastDueUsd"] = None
    with pytest.raises(DecodeError) as caught:
        decode(data)
    assert str(caught.value) == "[17].organization.pastDueUsd: expected int, got null"


def test_mostly_distinct_organizations_decode_alike() -> None:
    data = interleaved(500, 1)
    body = json.dumps(data, separators=(",", ":")).encode()
    assert distinct_organization_dicts(body) == 500
    assert distinct_organization_dicts(json.dumps(interleaved(100, 2)).encode()) == 100
    invoices = decode_invoices(body)
    assert invoices == structure_invoices(json.loads(body))
    assert len({id(invoice.organization) for invoice in invoices}) == 500


def test_one_organization_in_a_new_key_order_each_time_shares_one_instance() -> None:
    """No two texts alike: each is parsed, and equal dicts still share one instance."""
    import random

    shuffle = random.Random(13).shuffle
    shuffled = []
    for index in range(300):
        items = list(raw_invoice(index)["organization"].items())
        shuffle(items)
        shuffled.append({**raw_invoice(index), "organization": dict(items)})
    body = json.dumps(shuffled, separators=(",", ":")).encode()
    assert distinct_organization_dicts(body) > 290
    invoices = decode_invoices(body)
    assert invoices == structure_invoices(json.loads(body))
    assert len({id(invoice.organization) for invoice in invoices}) == 1


def test_an_organization_with_nested_unknown_values_is_parsed_once() -> None:
    """Issue 29: the parser finds the whole text, however nested; any whitespace too."""
    data = [
        with_org(raw_invoice(index), extra=[[1], {"x": {"y": [2]}}], someFieldAddedLater={"x": 1})
        for index in range(6)
    ]
    data = [{**raw, "lineItems": [{"sku": "a"}, [1, 2]]} for raw in data]
    for body in (json.dumps(data, separators=(",", ":")), json.dumps(data, indent="\t")):
        assert distinct_organization_dicts(body) == 1
        invoices = decode_invoices(body)
        assert invoices == structure_invoices(json.loads(body))
        assert len({id(invoice.organization) for invoice in invoices}) == 1


def test_the_parser_step_is_taken_where_texts_repeat_and_only_there() -> None:
    """A guess on the first few hundred texts: it picks the way, never the result."""
    import random

    shuffle = random.Random(7).shuffle
    shuffled = []
    for index in range(300):
        items = list(raw_invoice(index)["organization"].items())
        shuffle(items)
        shuffled.append({**raw_invoice(index), "organization": dict(items)})
    repeat = {
        "one organization": [raw_invoice(index) for index in range(300)],
        "30 interleaved": interleaved(30, 10),
        "nested": [with_org(raw_invoice(i), extra={"x": [1]}) for i in range(300)],
    }
    apart = {"300 organizations x 1": interleaved(300, 1), "keys shuffled": shuffled}
    for expected, bodies in ((True, repeat), (False, apart)):
        for name, data in bodies.items():
            for body in (json.dumps(data), json.dumps(data, indent=2).encode()):
                assert _wire.texts_repeat(body) is expected, name
                assert decode_invoices(body) == structure_invoices(json.loads(body)), name


def test_organizations_sharing_their_first_bytes_are_told_apart() -> None:
    """Issue 29: texts equal for their first 64+ bytes, ids further in, are distinct texts."""
    head = {"country": "US", "tier": "business", "status": "active", "autoRechargeEnabled": 0}
    data = []
    for raw in interleaved(20, 3):
        data.append({**raw, "organization": {**head, **raw["organization"], **head}})
    body = json.dumps(data, separators=(",", ":")).encode()
    assert body.count(b'"organization":{"country":"US","tier":"business","status":"active"') == 60
    assert distinct_organization_dicts(body) == 20
    invoices = decode_invoices(body)
    assert invoices == structure_invoices(json.loads(body))
    assert len({id(invoice.organization) for invoice in invoices}) == 20


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"creditBalance": "5000"}, "[0].organization.creditBalance: expected int, got str"),
        ({"id": "nope"}, "[0].organization.id: expected UUID, got 'nope'"),
        ({"timeCreated": "yesterday"}, "[0].organization.timeCreated: expected ISO 8601 timestamp"),
    ],
)
def test_a_bad_organization_repeated_in_every_invoice(
    change: dict[str, Any], message: str, decode: Decode
) -> None:
    with pytest.raises(DecodeError) as caught:
        decode([with_org(raw_invoice(index), **change) for index in range(20)])
    assert str(caught.value).startswith(message)


def _layout(data: list[dict[str, Any]], layout: str, seed: int) -> str:
    """``data`` as JSON text, laid out as ``layout`` (keys shuffled per object with ``seed``)."""
    import random

    if layout == "shuffled":
        shuffle = random.Random(seed).shuffle

        def shuffled(value: Any) -> Any:
            if isinstance(value, dict):
                items = list(value.items())
                shuffle(items)
                return {key: shuffled(item) for key, item in items}
            return value

        data = [shuffled(raw) for raw in data]
    if layout == "indented":
        return json.dumps(data, indent=1)
    return json.dumps(data, separators=(",", ":"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    organizations=st.integers(1, 14),
    order=st.lists(st.integers(0, 13), min_size=1, max_size=40),
    layout=st.sampled_from(["compact", "indented", "shuffled", "organization first"]),
    nested=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_equal_length_texts_and_equal_prefixes_are_told_apart(
    organizations: int, order: list[int], layout: str, nested: bool, seed: int
) -> None:
    """Issue 29: texts of one length (more than `_wire` compares one by one, so its dict on
    the bytes is used too), equal for their first 64+ bytes, in any layout: each distinct
    text is decoded once, each distinct organization built once, the result json.loads'."""
    head = {"country": "US", "tier": "business", "status": "active", "autoRechargeEnabled": 0}
    data = []
    for index, which in enumerate(order):
        which %= organizations
        raw = raw_invoice(index)
        # same width for every organization: the texts differ, their lengths do not
        org = {**head, **raw["organization"], "id": str(uuid.UUID(int=which + 1))}
        org["creditBalance"] = 1000 + which
        if nested:
            org["someFieldAddedLater"] = {"x": [which, {"y": None}]}
        if layout == "organization first":
            raw = {"organization": org, **raw}
        raw["organization"] = org
        data.append(raw)
    body = _layout(data, layout, seed)
    wire = _wire.wire_invoices(body, True)
    assert wire is not None
    distinct = {json.dumps(raw["organization"], sort_keys=True) for raw in data}
    if layout != "shuffled":  # equal organizations, equal texts: one struct each
        assert len({id(invoice.organization) for invoice in wire}) == len(distinct)
    for texts_repeat in (True, False):
        wire = _wire.wire_invoices(body.encode(), texts_repeat)
        assert wire is not None
        invoices = list(map(_build.build_wire_invoice, wire, itertools.repeat(_build.Scratch())))
        assert invoices == structure_invoices(json.loads(body))
    invoices = decode_invoices(body)
    assert invoices == structure_invoices(json.loads(body))
    assert len({id(invoice.organization) for invoice in invoices}) == len(distinct)


def test_sharing_is_per_call_and_thread_safe() -> None:
    bodies = [
        json.dumps([with_org(raw_invoice(i), creditBalance=n) for i in range(200)]).encode()
        for n in range(8)
    ]
    results: dict[int, list[Invoice]] = {}

    def work(n: int) -> None:
        for _ in range(5):
            results[n] = decode_invoices(bodies[n])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n, invoices in results.items():
        assert {invoice.organization.credit_balance for invoice in invoices} == {n}
        assert len({id(invoice.organization) for invoice in invoices}) == 1


# --- encoding ---


def test_to_wire_is_the_exact_wire_shape() -> None:
    invoices = decode_invoices(SPEC_BODY)
    assert to_wire(invoices) == SPEC
    assert to_wire(invoices[0]) == SPEC[0]
    assert to_wire(invoices[0].organization) == SPEC[0]["organization"]
    assert json.loads(dumps(invoices)) == SPEC
    assert dumps(invoices) == json.dumps(SPEC, separators=(",", ":"))
    assert json.loads(dumps(invoices, indent=True)) == SPEC
    assert "\n  " in dumps(invoices, indent=True)


def test_round_trip_decode_encode_decode(decode: Decode) -> None:
    data = [
        raw_invoice(0, created="2019-08-24T16:15:22.1234567+02:00", dueDate=None),
        with_org(
            raw_invoice(1, paidDate="2019-08-24T14:15:22"),
            timeCreated="2019-08-24T14:15:22.5-05:30",
        ),
    ]
    invoices = decode(data)
    wire = to_wire(invoices)
    assert wire[0]["created"] == "2019-08-24T14:15:22.123456Z"
    assert wire[0]["dueDate"] is None
    assert wire[1]["paidDate"] == "2019-08-24T14:15:22Z"
    assert wire[1]["organization"]["timeCreated"] == "2019-08-24T19:45:22.500000Z"
    assert structure_invoices(wire) == invoices
    assert decode_invoices(dumps(invoices)) == invoices
    assert decode_invoices(dumps(invoices).encode()) == invoices
    assert to_wire(decode_invoices(dumps(invoices))) == wire


def test_to_wire_gives_every_invoice_its_own_dicts() -> None:
    wire = to_wire(decode_invoices(json.dumps([raw_invoice(0), raw_invoice(1)])))
    wire[0]["organization"]["name"] = "changed"
    assert wire[1]["organization"]["name"] == "Acme"


def test_to_wire_takes_containers_and_normalizes_datetimes() -> None:
    [invoice] = decode_invoices(SPEC_BODY)
    local = timezone(timedelta(hours=2))
    changed = attrs.evolve(
        invoice,
        created=datetime(2019, 8, 24, 16, 15, 22, tzinfo=local),
        paid_date=datetime(2019, 8, 24, 14, 15, 22),
    )
    wire = to_wire({"acme": (changed for _ in range(2)), "count": 2})
    assert wire["count"] == 2
    assert wire["acme"][0]["created"] == wire["acme"][1]["paidDate"] == "2019-08-24T14:15:22Z"
    assert to_wire({changed}) == [to_wire(changed)]
    assert converter.unstructure(changed) == to_wire(changed)
    with pytest.raises(TypeError):
        to_wire(object())


def test_the_converter_structures_single_objects_too() -> None:
    assert converter.structure(SPEC[0], Invoice) == decode_invoices(SPEC_BODY)[0]
    assert (
        converter.structure(SPEC[0]["organization"], Organization)
        == decode_invoices(SPEC_BODY)[0].organization
    )


def test_non_ascii_survives_dumps() -> None:
    [invoice] = structure_invoices([with_org(raw_invoice(), city="München", name="Müller & Söhne")])
    text = dumps([invoice])
    assert "München" in text
    assert decode_invoices(text) == [invoice]
    assert decode_invoices(text.encode()) == [invoice]


# --- property tests ---

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["2019-08-24T14:15:22Z", "497f6eca-6276-4993-bfeb-53cbbbba6f08"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def decode_or_error(data: Any) -> list[Invoice] | DecodeError:
    try:
        return structure_invoices(data)
    except DecodeError as error:
        return error


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_gives_invoices_or_decode_error(data: Any) -> None:
    result = decode_or_error(data)
    assert isinstance(result, list | DecodeError)
    with contextlib.suppress(DecodeError):
        decode_invoices(json.dumps(data))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_arbitrary_bytes_give_invoices_or_decode_error(body: bytes | str) -> None:
    with contextlib.suppress(DecodeError):
        decode_invoices(body)


FIELD_PATHS = [(name,) for name in SPEC[0]] + [
    ("organization", name) for name in SPEC[0]["organization"]
]


def acceptable(path: tuple[str, ...], value: Any) -> bool | None:
    """Whether ``value`` is valid at ``path``; None when the test cannot tell cheaply."""
    model = Organization if len(path) == 2 else Invoice
    [field] = [f for f in attrs.fields(model) if wire_name(model, f.name) == path[-1]]
    if field.type is int:
        return type(value) is int
    if field.type is bool:
        return type(value) is bool
    if field.type == str | None:
        return value is None or type(value) is str
    if field.type is Organization:
        return None
    if type(value) is str:
        return None  # a timestamp or UUID text: the example tables cover those
    return value is None and field.default is None


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FIELD_PATHS), json_values, st.integers(0, 2), st.booleans())
def test_any_value_in_any_field_is_taken_only_if_valid(
    path: tuple[str, ...], value: Any, index: int, as_bytes: bool
) -> None:
    data = [raw_invoice(i) for i in range(3)]
    target = data[index]
    for parent in path[:-1]:
        target = target[parent]
    target[path[-1]] = value
    body = json.dumps(data, separators=(",", ":"))
    outcome = decode_or_error(data)
    via_body = (
        decode_invoices(body.encode() if as_bytes else body) if isinstance(outcome, list) else None
    )
    expected = acceptable(path, value)
    if isinstance(outcome, DecodeError):
        assert expected is not True, outcome
        assert outcome.path.startswith(f"[{index}]." + ".".join(path)), outcome
        with pytest.raises(DecodeError) as caught:
            decode_invoices(body.encode() if as_bytes else body)
        assert str(caught.value) == str(outcome)
    else:
        assert expected is not False, value
        assert via_body == outcome
        assert structure_invoices(to_wire(outcome)) == outcome


aware_datetimes = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
int64 = st.integers(-(2**63), 2**63 - 1)
uuids = st.uuids()


def model_strategy(model: type, **fixed: Any) -> st.SearchStrategy[Any]:
    strategies: dict[str, st.SearchStrategy[Any]] = {}
    for field in attrs.fields(model):
        if field.type is int:
            strategies[field.name] = int64
        elif field.type is bool:
            strategies[field.name] = st.booleans()
        elif field.type is uuid.UUID:
            strategies[field.name] = uuids
        elif field.type == str | None:
            strategies[field.name] = st.none() | st.text(max_size=20)
        elif field.type == datetime | None:
            strategies[field.name] = st.none() | aware_datetimes
    strategies.update(fixed)
    return st.builds(model, **strategies)


invoices_strategy = st.lists(
    model_strategy(Invoice, organization=st.sampled_from([0, 1])), max_size=6
).flatmap(
    lambda drafts: st.lists(model_strategy(Organization), min_size=2, max_size=2).map(
        lambda orgs: [
            attrs.evolve(draft, organization=orgs[draft.organization]) for draft in drafts
        ]
    )
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(invoices_strategy)
def test_valid_invoices_round_trip(invoices: list[Invoice]) -> None:
    assert decode_invoices(dumps(invoices)) == invoices
    assert decode_invoices(dumps(invoices).encode()) == invoices
    assert structure_invoices(to_wire(invoices)) == invoices
    assert decode_invoices(dumps(invoices, indent=True)) == invoices


def _layouts(data: list[dict[str, Any]]) -> dict[str, str]:
    """The same invoices as a server could lay them out without changing their meaning."""
    first = [{"organization": raw["organization"], **raw} for raw in data]
    extra = [
        {**raw, "organization": {**raw["organization"], "newField": [1]}, "taxUsdCents": 0}
        for raw in data
    ]
    flat_extra = [
        {**raw, "organization": {**raw["organization"], "newField": "x}"}, "z": {"a": 1}}
        for raw in data
    ]
    return {
        "compact": json.dumps(data, separators=(",", ":")),
        "organization first": json.dumps(first, separators=(",", ":")),
        "new fields, nested": json.dumps(extra, separators=(",", ":")),
        "new fields, flat": json.dumps(flat_extra, separators=(",", ":")),
        "pretty": json.dumps(data, indent=2),
        "spaced": json.dumps(data, separators=(" , ", " : ")),
        "tabs and CRLF": json.dumps(data, indent="\t").replace("\n", "\r\n"),
    }


@pytest.mark.parametrize("kind", [bytes, str])
def test_every_layout_decodes_alike_and_shares_one_organization(kind: type) -> None:
    data = [raw_invoice(index) for index in range(40)]
    expected = structure_invoices(copy.deepcopy(data))
    for layout, text in _layouts(data).items():
        body = text.encode() if kind is bytes else text
        invoices = decode_invoices(body)
        assert invoices == expected, layout
        assert len({id(invoice.organization) for invoice in invoices}) == 1, layout


@pytest.mark.parametrize(
    "layout", ["organization first", "new fields, flat", "pretty", "spaced", "tabs and CRLF"]
)
def test_a_repeated_organization_is_parsed_once_in_any_layout(layout: str) -> None:
    """Speed must not depend on byte layout: one text, parsed once, in each layout."""
    body = _layouts([raw_invoice(index) for index in range(40)])[layout].encode()
    assert distinct_organization_dicts(body) == 1


def test_organization_texts_outside_an_invoices_organization_change_nothing() -> None:
    """Only an invoice's own ``organization`` value counts, and the last of duplicates."""
    org = raw_invoice()["organization"]
    data = [raw_invoice(0), raw_invoice(1, extra={"organization": org}), raw_invoice(2)]
    body = json.dumps(data, separators=(",", ":")).encode()
    invoices = decode_invoices(body)
    assert invoices == structure_invoices(json.loads(body))
    other = {**org, "name": "Other"}
    duplicate = body.replace(
        b'"organization":', b'"organization":' + json.dumps(other).encode() + b',"organization":', 1
    )
    assert decode_invoices(duplicate) == structure_invoices(json.loads(duplicate))
    assert decode_invoices(duplicate)[0].organization.name == "Acme"


def test_equal_organizations_in_any_key_order_share_one_instance() -> None:
    org = raw_invoice()["organization"]
    reordered = dict(reversed(list(org.items())))
    data = [raw_invoice(0), {**raw_invoice(1), "organization": reordered}]
    invoices = decode_invoices(json.dumps(data).encode())
    assert invoices[0].organization is invoices[1].organization
    flipped = {**reordered, "creditBalance": float(org["creditBalance"])}  # equal, wrong type
    with pytest.raises(DecodeError, match=r"\[1\]\.organization\.creditBalance: expected int"):
        decode_invoices(json.dumps([raw_invoice(0), {**raw_invoice(1), "organization": flipped}]))


# --- the fast paths: each gives what the strict path gives, and refuses what it refuses ---

UUID_TEXTS = [
    "497f6eca-6276-4993-bfeb-53cbbbba6f08",
    "497F6ECA-6276-4993-BFEB-53CBBBBA6F08",
    "0f1E2d3c-4B5a-6978-8796-a5B4c3D2e1F0",
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
]


@pytest.mark.parametrize("text", UUID_TEXTS)
def test_uuids_built_without_uuid_parsing_are_real_uuids(text: str) -> None:
    import pickle

    (invoice,) = structure_invoices([raw_invoice(idOrganization=text)])
    made, real = invoice.id_organization, uuid.UUID(text)
    assert type(made) is uuid.UUID
    assert made == real and hash(made) == hash(real) and str(made) == str(real)
    assert (made.int, made.hex, made.bytes, made.version, made.variant, made.is_safe) == (
        real.int,
        real.hex,
        real.bytes,
        real.version,
        real.variant,
        real.is_safe,
    )
    assert not made < real and not made > real and made <= real
    assert pickle.loads(pickle.dumps(made)) == real
    assert copy.copy(made) == real and copy.deepcopy(made) == real
    assert {made: 1}[real] == 1


# Texts ``uuid.UUID`` (or ``int(x, 16)`` behind it) takes, and the strict reader does not.
UUIDS_REFUSED = [
    "497f6eca627649 93bfeb53cbbbba6f08",
    "497f6eca62764993bfeb53cbbbba6f08",
    "{497f6eca-6276-4993-bfeb-53cbbbba6f08}",
    "urn:uuid:497f6eca-6276-4993-bfeb-53cbbbba6f08",
    "497f6eca6-276-4993-bfeb-53cbbbba6f08",
    "497f6eca-6276-4993-bfeb-53cbbbba6f0_",
    "497f6eca-6276-4993-bfeb-53cbbbba_f08",
    " 97f6eca-6276-4993-bfeb-53cbbbba6f08",
    "497f6eca-6276-4993-bfeb-53cbbbba6f08 ",
    "497f6eca-6276-4993-bfeb-53cbbbba6f0\u0668",  # an Arabic-Indic digit: int() reads it
    "497f6eca-6276-4993-bfeb-53cbbbba6f0\ud800",  # a lone surrogate: encode() fails
    "497f6eca-6276-4993-bfeb-53cbbbba6f0",
    "497f6eca-6276-4993-bfeb-53cbbbba6f088",
    "0x7f6eca-6276-4993-bfeb-53cbbbba6f08",
    "+97f6eca-6276-4993-bfeb-53cbbbba6f08",
]


@pytest.mark.parametrize("text", UUIDS_REFUSED)
def test_the_fast_uuid_read_refuses_what_the_strict_one_refuses(text: str) -> None:
    for data in ([raw_invoice(idOrganization=text)], [with_org(raw_invoice(), id=text)]):
        with pytest.raises(_build.Invalid, match=r"^expected UUID, got "):
            _build.build_invoice(copy.deepcopy(data[0]), _build.Scratch())
        with pytest.raises(DecodeError, match="expected UUID, got "):
            structure_invoices(data)
        if "\ud800" not in text:  # not encodable: no body carries it
            with pytest.raises(DecodeError, match="expected UUID, got "):
                decode_invoices(json.dumps(data))


def test_a_str_subclass_is_refused_even_when_its_text_was_seen() -> None:
    class Text(str):
        pass

    plain = raw_invoice()
    sneaky = raw_invoice(1, idOrganization=Text(plain["idOrganization"]))
    with pytest.raises(DecodeError, match=r"^\[1\]\.idOrganization: expected UUID string"):
        structure_invoices([plain, sneaky])
    with pytest.raises(DecodeError, match=r"^\[1\]\.organization\.id: expected UUID string"):
        structure_invoices([plain, with_org(raw_invoice(1), id=Text(plain["idOrganization"]))])


def test_uuids_are_shared_within_a_response_not_across_responses() -> None:
    """Another response's ids are other ids: no process-wide cache (and no warm benchmark)."""
    body = json.dumps([raw_invoice(index) for index in range(3)])
    first, second = decode_invoices(body), decode_invoices(body)
    assert first[0].id_organization is first[2].id_organization
    assert first[0].id_organization == second[0].id_organization
    assert first[0].id_organization is not second[0].id_organization
