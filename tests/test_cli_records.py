"""What the CLI writes: the API's own records in json/jsonl, chosen columns in table/csv.

json/jsonl output is read back with ``apibricks.decode_invoices`` and compared with what
``list_paid`` returns for the same keys: lossless, for one key, many keys and the quirks
of a real ASP.NET backend (served here by a small aiohttp app from an edited sandbox body).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from test_cli import BAD_KEY, KEY, cli, decoded, sdk_invoices

import apibricks
from apibricks import sandbox
from apibricks.cli import main
from apibricks.cli._columns import column_names


def by_identity(invoices: list[apibricks.Invoice]) -> list[apibricks.Invoice]:
    return sorted(invoices, key=lambda i: (str(i.id_organization), i.id))


@pytest.mark.parametrize("format", ["json", "jsonl"])
async def test_many_keys_round_trip_every_invoice_once(
    sandbox_url: str, tmp_path: Path, format: str
) -> None:
    keys = [f"sk_sandbox_org{n}~n{n * 7}" for n in range(8)]  # org0 has no invoices
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(keys) + "\n", encoding="utf-8")
    target = tmp_path / f"out.{format}"
    result = await cli(
        "invoices", "paid", "--keys-file", str(keys_file), "-o", str(target),
        "--concurrency", "3", APIBRICKS_BASE_URL=sandbox_url,
    )  # fmt: skip
    assert (result.code, result.out, result.err) == (0, "", "")
    wanted = [i for key in keys for i in await sdk_invoices(sandbox_url, key)]
    assert len(wanted) == 7 * sum(range(8))
    got = decoded(format, target.read_text(encoding="utf-8"))
    assert by_identity(got) == by_identity(wanted)


# --- the ASP.NET quirks, from a server that sends them ---


def quirky_body() -> bytes:
    """A sandbox body edited the way ASP.NET really answers."""
    records: list[dict[str, Any]] = json.loads(sandbox.make_invoices_payload(KEY, 4))
    first, second, third, _ = records
    first["created"] = "2024-05-01T10:00:00.1234567"  # 7 digits, no offset
    first["paidDate"] = "2024-05-01T10:00:00"  # no fraction, no offset
    first["dueDate"] = "0001-01-01T00:00:00"  # .NET's DateTime.MinValue
    first["organization"]["pastDueSince"] = "0001-01-01T00:00:00Z"
    second["dueDate"] = None
    second["organization"]["address2"] = None
    second["futureField"] = {"nested": [1, 2]}  # unknown: ignored
    second["organization"]["newFlag"] = True
    del third["currency"]  # an optional field left out
    third["created"] = "2024-05-01T10:00:00.5+02:00"
    return json.dumps(records).encode()


def serving(body: Callable[[], bytes]) -> Callable[[], Any]:
    async def fixture() -> AsyncIterator[str]:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=body(), content_type="application/json")

        app = web.Application()
        app.router.add_get("/invoices/paid", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()

    return fixture


quirky_url = pytest.fixture(serving(quirky_body))


@pytest.mark.parametrize("format", ["json", "jsonl"])
async def test_aspnet_quirks_round_trip(quirky_url: str, format: str) -> None:
    result = await cli(
        "invoices", "paid", "--format", format, APIBRICKS_API_KEY=KEY, APIBRICKS_BASE_URL=quirky_url
    )
    assert (result.code, result.err) == (0, "")
    invoices = await sdk_invoices(quirky_url, KEY)
    assert decoded(format, result.out) == invoices
    assert invoices[0].due_date is not None and invoices[0].due_date.year == 1
    assert invoices[0].created is not None and invoices[0].created.microsecond == 123456
    assert "futureField" not in result.out and "newFlag" not in result.out
    records = [json.loads(line) for line in result.out.splitlines()] if format == "jsonl" else []
    for record in records:  # every timestamp RFC 3339 with Z, as apibricks.dumps writes them
        for name in ("created", "paidDate", "dueDate"):
            assert record[name] is None or record[name].endswith("Z")


# --- --columns ---


async def test_columns_in_the_order_given_with_nested_names(sandbox_url: str) -> None:
    names = "organization.country,invoiceNumber,amountUsd,organization.creditBalance,paid"
    result = await cli(
        "invoices", "paid", "--format", "csv", "--columns", names,
        APIBRICKS_API_KEY=KEY, APIBRICKS_BASE_URL=sandbox_url,
    )  # fmt: skip
    assert (result.code, result.err) == (0, "")
    header, *rows = list(csv.reader(io.StringIO(result.out)))
    assert header == names.split(",")
    invoices = await sdk_invoices(sandbox_url, KEY)
    assert rows == [
        [
            str(i.organization.country),
            str(i.invoice_number),
            f"{i.amount_usd:f}",
            str(i.organization.credit_balance),
            "true" if i.paid else "false",
        ]
        for i in invoices
    ]


async def test_columns_in_a_table(sandbox_url: str) -> None:
    result = await cli(
        "invoices", "paid", "--format", "table", "--columns", "invoiceNumber,organization.city",
        APIBRICKS_API_KEY=KEY, APIBRICKS_BASE_URL=sandbox_url,
    )  # fmt: skip
    assert result.code == 0, result.err
    header, *rows, total = result.out.splitlines()
    assert header.split() == ["invoiceNumber", "organization.city"]
    invoices = await sdk_invoices(sandbox_url, KEY)
    assert [row.split()[0] for row in rows] == [i.invoice_number for i in invoices]
    assert all(str(i.organization.city) in row for row, i in zip(rows, invoices, strict=True))
    assert total.startswith(f"{len(invoices)} invoices from 1 organization")


def test_every_api_field_is_a_column() -> None:
    names = column_names()
    assert "amountUsd" in names and "invoiceNumber" in names
    organization_fields = [n for n in names if n.startswith("organization.")]
    assert len(organization_fields) == len(apibricks.Organization.__attrs_attrs__)
    assert "organization.billingEmail" in organization_fields


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["--format", "csv", "--columns", "invoiceNumber,nope,organization.zzz"],
            "unknown column 'nope', 'organization.zzz'; valid: idOrganization, id, invoiceNumber",
            id="unknown",
        ),
        pytest.param(
            ["--format", "json", "--columns", "id"], "json holds the whole API record", id="json"
        ),
        pytest.param(["-o", "x.jsonl", "--columns", "id"], "use jq", id="jsonl"),
    ],
)
def test_columns_usage_errors(
    args: list[str],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("APIBRICKS_API_KEY", BAD_KEY)
    assert main(["invoices", "paid", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert expected in err and err.count("\n") == 1
    if "valid:" in err:
        assert "organization.billingEmail" in err and "amountUsd" in err


# --- csv cells are never formulas (OWASP CSV injection) ---


def hostile_body() -> bytes:
    records: list[dict[str, Any]] = json.loads(sandbox.make_invoices_payload(KEY, 1))
    organization = records[0]["organization"]
    organization.update(
        name='=HYPERLINK("http://evil.example","x")',
        company="+SUM(1+1)",
        city="-2+3",
        address1="@SUM(A1)",
        address2="\tTAB",
        region="\rCR",
        billingEmail="ok@example.com",
    )
    records[0]["amountUsdCents"] = -12345  # a refund: a number, not text
    return json.dumps(records).encode()


hostile_url = pytest.fixture(serving(hostile_body))


async def test_csv_text_is_never_a_formula(hostile_url: str) -> None:
    fields = ["name", "company", "city", "address1", "address2", "region", "billingEmail"]
    result = await cli(
        "invoices", "paid", "--format", "csv", "--columns",
        ",".join(["amountUsdCents", "amountUsd", *(f"organization.{f}" for f in fields)]),
        APIBRICKS_API_KEY=KEY, APIBRICKS_BASE_URL=hostile_url,
    )  # fmt: skip
    assert result.code == 0, result.err
    _, row = list(csv.reader(io.StringIO(result.out)))
    assert row == [
        "-12345",
        "-123.45",
        """'=HYPERLINK("http://evil.example","x")""",
        "'+SUM(1+1)",
        "'-2+3",
        "'@SUM(A1)",
        "'\tTAB",
        "'\rCR",
        "ok@example.com",
    ]


async def test_csv_default_row_is_neutralised_too(hostile_url: str) -> None:
    result = await cli(
        "invoices", "paid", "--format", "csv", APIBRICKS_API_KEY=KEY, APIBRICKS_BASE_URL=hostile_url
    )
    assert result.code == 0, result.err
    (record,) = list(csv.DictReader(io.StringIO(result.out)))
    assert record["organizationName"] == """'=HYPERLINK("http://evil.example","x")"""
    assert record["amountUsd"] == "-123.45"


# --- -o: suffixes ---


async def test_unknown_suffix_is_fine_with_an_explicit_format(
    sandbox_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "report.txt"
    result = await cli(
        "invoices", "paid", "-o", str(target), "--format", "jsonl",
        APIBRICKS_API_KEY=KEY, APIBRICKS_BASE_URL=sandbox_url,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert decoded("jsonl", target.read_text(encoding="utf-8")) == await sdk_invoices(
        sandbox_url, KEY
    )


# --- parquet: to_arrow's columns, every organization field ---


async def test_parquet_holds_to_arrow_columns_for_many_keys(
    sandbox_url: str, tmp_path: Path
) -> None:
    parquet = pytest.importorskip("pyarrow.parquet")  # the arrow extra is in the test group
    keys = [f"sk_sandbox_pq{n}~n{n * 5}" for n in range(5)]
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(keys) + "\n", encoding="utf-8")
    target = tmp_path / "paid.parquet"
    result = await cli(
        "invoices", "paid", "--keys-file", str(keys_file), "-o", str(target),
        APIBRICKS_BASE_URL=sandbox_url,
    )  # fmt: skip
    assert (result.code, result.err) == (0, "")
    wanted = apibricks.to_arrow(
        by_identity([i for key in keys for i in await sdk_invoices(sandbox_url, key)])
    )
    table = parquet.read_table(target).sort_by(
        [("id_organization", "ascending"), ("id", "ascending")]
    )
    assert table.schema == wanted.schema
    assert (
        table.to_pylist()
        == wanted.sort_by([("id_organization", "ascending"), ("id", "ascending")]).to_pylist()
    )
    assert "organization_billing_email" in table.column_names
    assert sorted(os.listdir(tmp_path)) == ["keys.txt", "paid.parquet"]


def test_parquet_usage_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APIBRICKS_API_KEY", BAD_KEY)
    assert main(["invoices", "paid", "--format", "parquet"]) == 2
    assert "-o FILE.parquet" in capsys.readouterr().err
    assert main(["invoices", "paid", "-o", "x.parquet", "--columns", "id"]) == 2
    assert "pandas.read_parquet" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if the arrow extra were absent
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert main(["invoices", "paid", "-o", "x.parquet"]) == 2
    assert 'pip install "apibricks[arrow]"' in capsys.readouterr().err
