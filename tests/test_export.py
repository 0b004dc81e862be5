"""`to_arrow` / `to_pandas`: one row per invoice, organization flattened, types kept exact."""

from __future__ import annotations

import decimal
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import apibricks
from apibricks import Invoice, Organization, sandbox
from apibricks._converter import decode_invoices

KEYS = ["sk_sandbox_acme", "sk_sandbox_globex~n3", "sk_sandbox_initech~n0", "sk_sandbox_umbrella"]


def sandbox_invoices(key: str = "sk_sandbox_acme", n: int = 5) -> list[Invoice]:
    return decode_invoices(sandbox.make_invoices_payload(key, n))


def expected(value: object) -> object:
    """A model value as the table holds it: UUIDs as their canonical text."""
    return str(value) if isinstance(value, uuid.UUID) else value


def flat_fields() -> list[tuple[str, type, str]]:
    """(column, model, attribute) for every model field, straight from attrs."""
    columns = [(f.name, Invoice, f.name) for f in attrs.fields(Invoice) if f.name != "organization"]
    columns += [
        (f"organization_{f.name}", Organization, f.name) for f in attrs.fields(Organization)
    ]
    return columns


async def test_every_field_of_every_invoice_round_trips(sandbox_url: str) -> None:
    async with apibricks.AsyncClient(base_url=sandbox_url) as client:
        report = await client.paid_invoices_by_organization(KEYS)
    invoices = [invoice for entry in report for invoice in entry.invoices]
    organizations = {invoice.organization.id for invoice in invoices}
    assert len(organizations) == 3  # interleaved organizations, one without invoices

    rows = apibricks.to_arrow(invoices).to_pylist()

    assert len(rows) == len(invoices) == report.invoice_count
    for row, invoice in zip(rows, invoices, strict=True):
        for column, model, attribute in flat_fields():
            source = invoice if model is Invoice else invoice.organization
            assert row[column] == expected(getattr(source, attribute)), column
        assert row["amount_usd"] == invoice.amount_usd


def test_columns_and_types_follow_the_model_annotations() -> None:
    schema = apibricks.to_arrow(sandbox_invoices()).schema
    names = [column for column, _, _ in flat_fields()]
    names.insert(names.index("amount_usd_cents") + 1, "amount_usd")
    assert schema.names == names
    for column, model, attribute in flat_fields():
        field = attrs.fields_dict(model)[attribute]
        arrow = schema.field(column)
        assert arrow.nullable == (field.default is None), column
        kind = field.type if arrow.nullable is False else field.type.__args__[0]
        assert (
            arrow.type
            == {
                int: pa.int64(),
                bool: pa.bool_(),
                str: pa.string(),
                uuid.UUID: pa.string(),
                datetime: pa.timestamp("us", tz="UTC"),
            }[kind]
        ), column
    assert schema.field("amount_usd").type == pa.decimal128(19, 2)
    assert not schema.field("amount_usd").nullable


def test_nulls_timestamps_and_extreme_amounts() -> None:
    base = sandbox_invoices(n=1)[0]
    when = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=timezone.utc)
    sparse = attrs.evolve(
        base,
        id=None,
        created=None,
        paid_date=when,
        amount_usd_cents=2**63 - 1,
        organization=attrs.evolve(base.organization, name=None, past_due_since=None),
    )
    negative = attrs.evolve(base, amount_usd_cents=-1, voided=True)

    table = apibricks.to_arrow([sparse, negative])

    first, second = table.to_pylist()
    assert first["id"] is None and first["created"] is None
    assert first["organization_name"] is None and first["organization_past_due_since"] is None
    assert first["paid_date"] == when and first["paid_date"].utcoffset().total_seconds() == 0
    assert first["amount_usd_cents"] == 2**63 - 1
    assert first["amount_usd"] == decimal.Decimal("92233720368547758.07")
    assert second["amount_usd"] == decimal.Decimal("-0.01") and second["voided"] is True
    assert table.column("id").null_count == 1


def test_empty_input_is_an_empty_table_with_the_schema() -> None:
    table = apibricks.to_arrow(iter(()))
    assert table.num_rows == 0
    assert table.schema == apibricks.to_arrow(sandbox_invoices(n=1)).schema
    assert list(apibricks.to_pandas([]).columns) == table.schema.names


def test_pandas_types() -> None:
    invoices = sandbox_invoices(n=4)
    invoices[1] = attrs.evolve(invoices[1], created=None, status=None)

    frame = apibricks.to_pandas(invoices)

    assert len(frame) == 4
    assert str(frame["created"].dtype) == "datetime64[us, UTC]"
    assert frame["created"].isna().tolist() == [False, True, False, False]
    assert frame["status"].isna().tolist() == [False, True, False, False]
    assert frame["paid"].dtype == bool
    assert frame["amount_usd_cents"].dtype == "int64"
    assert frame["organization_credit_balance"].dtype == "int64"
    assert pd.api.types.is_string_dtype(frame["organization_name"])
    amounts = frame["amount_usd"]
    assert amounts.dtype == pd.ArrowDtype(pa.decimal128(19, 2))
    assert amounts.tolist() == [invoice.amount_usd for invoice in invoices]
    assert amounts.sum() == sum(invoice.amount_usd for invoice in invoices)
    assert frame["created"].iloc[0] == pd.Timestamp(invoices[0].created)


def test_parquet_round_trip_keeps_the_schema(tmp_path: Path) -> None:
    table = apibricks.to_arrow(sandbox_invoices())
    pq.write_table(table, tmp_path / "invoices.parquet")
    assert pq.read_table(tmp_path / "invoices.parquet").equals(table, check_metadata=False)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_import_apibricks_stays_light() -> None:
    result = run_python(
        "import sys, apibricks, apibricks.dask\n"
        "heavy = {'pyarrow', 'pandas', 'dask', 'distributed', 'numpy'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("blocked", "call", "extra"),
    [
        ("pyarrow", "apibricks.to_arrow([])", "arrow"),
        ("pandas", "apibricks.to_pandas([])", "pandas"),
        ("pyarrow", "apibricks.to_pandas([])", "pandas"),
        ("dask", "apibricks.dask.paid_invoices(['sk_sandbox_a'])", "dask"),
        ("distributed", "apibricks.dask.paid_invoices(['sk_sandbox_a'])", "dask"),
    ],
)
def test_a_missing_extra_names_it(blocked: str, call: str, extra: str) -> None:
    result = run_python(
        f"import sys\nsys.modules[{blocked!r}] = None\n"
        f"import apibricks, apibricks.dask\n"
        f"try:\n    {call}\n"
        f"except ImportError as exc:\n    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert f'pip install "apibricks[{extra}]"' in result.stdout
    assert blocked in result.stdout


def test_lazy_names_are_exported() -> None:
    assert {"to_arrow", "to_pandas"} <= set(apibricks.__all__)
    assert apibricks.to_arrow is apibricks._export.to_arrow
    with pytest.raises(AttributeError, match="no_such_name"):
        _: Any = apibricks.no_such_name  # type: ignore[attr-defined]
