"""The attrs models: shape per the spec, immutability, equality, hashing, small helpers."""

from __future__ import annotations

import ast
import decimal
import json
import pickle
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest

from apibricks import Invoice, Organization

SPEC_EXAMPLE = json.loads((Path(__file__).parent / "data" / "spec_example.json").read_text())
ORG_ID = uuid.UUID("497f6eca-6276-4993-bfeb-53cbbbba6f08")
WHEN = datetime(2019, 8, 24, 14, 15, 22, tzinfo=timezone.utc)


def snake(camel: str) -> str:
    """The test's own camel -> snake rule, independent of the converter's."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()


def organization(**changes: Any) -> Organization:
    ints = {f.name: 0 for f in attrs.fields(Organization) if f.type is int}
    return Organization(**{"id": ORG_ID, **ints, **changes})


def invoice(**changes: Any) -> Invoice:
    values: dict[str, Any] = {
        "id_organization": ORG_ID,
        "paid": True,
        "voided": False,
        "uncollectible": False,
        "amount_usd_cents": 12345,
        "organization": organization(),
    }
    return Invoice(**{**values, **changes})


@pytest.mark.parametrize(
    ("model", "wire"),
    [(Invoice, SPEC_EXAMPLE[0]), (Organization, SPEC_EXAMPLE[0]["organization"])],
)
def test_one_snake_case_attribute_per_documented_field_in_spec_order(
    model: type, wire: dict[str, Any]
) -> None:
    assert [f.name for f in attrs.fields(model)] == [snake(name) for name in wire]
    assert len(attrs.fields(model)) == {Invoice: 13, Organization: 53}[model]


def test_the_names_the_design_quotes() -> None:
    names = {f.name for f in attrs.fields(Invoice)} | {f.name for f in attrs.fields(Organization)}
    assert {"id_organization", "amount_usd_cents", "total_paid_usd_last_w", "address1"} <= names
    assert "postal_code" in names


def test_types_follow_the_openapi_rendering() -> None:
    types = {f.name: f.type for f in attrs.fields(Invoice)}
    assert types["id_organization"] is uuid.UUID
    assert types["organization"] is Organization
    assert types["amount_usd_cents"] is int
    assert types["paid"] is types["voided"] is types["uncollectible"] is bool
    assert types["created"] == datetime | None
    assert types["currency"] == str | None
    org_types = {f.name: f.type for f in attrs.fields(Organization)}
    assert org_types["id"] is uuid.UUID
    assert org_types["credit_balance"] is int
    assert org_types["auto_recharge_enabled"] is int  # int64 on the wire, kept as sent
    assert org_types["time_created"] == datetime | None
    assert org_types["postal_code"] == str | None


@pytest.mark.parametrize("model", [Invoice, Organization])
def test_nullable_fields_default_to_none_and_the_rest_are_required(model: type) -> None:
    for field in attrs.fields(model):
        nullable = type(None) in getattr(field.type, "__args__", ())
        assert (field.default is None) if nullable else (field.default is attrs.NOTHING), field


def test_required_fields_are_enforced_and_keyword_only() -> None:
    with pytest.raises(TypeError):
        Invoice(id_organization=ORG_ID)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Invoice(ORG_ID)  # type: ignore[call-arg]
    assert invoice().created is None
    assert organization().name is None


def test_frozen_slotted_hashable_comparable() -> None:
    first, second = invoice(), invoice()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        first.amount_usd_cents = 1  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        first.organization.name = "x"  # type: ignore[misc]
    assert not hasattr(first, "__dict__")
    assert not hasattr(first.organization, "__dict__")
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second, invoice(amount_usd_cents=1)}) == 2
    assert first != attrs.evolve(first, organization=organization(name="other"))


def test_pickle_round_trip() -> None:
    value = invoice(created=WHEN, organization=organization(name="Acme", time_created=WHEN))
    hash(value.organization)  # fills the cached hash before pickling
    copy = pickle.loads(pickle.dumps(value))
    assert copy == value
    assert hash(copy) == hash(value)


@pytest.mark.parametrize(
    ("cents", "dollars"),
    [
        (12345, "123.45"),
        (150, "1.50"),
        (0, "0.00"),
        (7, "0.07"),
        (-250, "-2.50"),
        (2**63 - 1, "92233720368547758.07"),
        (10**40 + 1, "100000000000000000000000000000000000000.01"),
    ],
)
def test_amount_usd_is_exact_decimal_dollars(cents: int, dollars: str) -> None:
    amount = invoice(amount_usd_cents=cents).amount_usd
    assert isinstance(amount, decimal.Decimal)
    assert amount == decimal.Decimal(dollars)
    assert str(amount) == dollars


def test_models_module_holds_no_serialization() -> None:
    tree = ast.parse((Path(__file__).parents[1] / "apibricks" / "_models.py").read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported == {"attrs", "decimal", "uuid", "datetime"}
