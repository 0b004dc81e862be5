"""The ``apibricks`` command line, run as users run it: a subprocess against a sandbox.

Records are checked against what the SDK itself returns for the same key, field by field
and independently of the CLI's own record builder. Usage errors that never reach the
network run in-process through ``main()`` (cheap); the rest are subprocesses (~0.3 s each).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import apibricks
from apibricks import sandbox
from apibricks.cli import main

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk_sandbox_acme"
BAD_KEY = "sk_live_not_a_real_key_7Q2x"  # unknown to the sandbox: 401


@dataclass
class Result:
    code: int
    out: str
    err: str


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APIBRICKS_")}
    return {**env, **extra}


async def cli(*args: str, stdin: str | None = None, **env: str) -> Result:
    """Run ``python -m apibricks ARGS`` without blocking the loop serving the sandbox."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "apibricks",
        *args,
        cwd=ROOT,
        env=clean_env(**env),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else b""), 60)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


async def sdk_invoices(base_url: str, key: str) -> list[apibricks.Invoice]:
    async with apibricks.AsyncClient(api_key=key, base_url=base_url) as client:
        return await client.invoices.list_paid()


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def expected(invoice: apibricks.Invoice) -> dict[str, Any]:
    """The documented record for ``invoice``, written out by hand (timestamps as isoformat)."""
    return {
        "idOrganization": str(invoice.id_organization),
        "id": invoice.id,
        "invoiceNumber": invoice.invoice_number,
        "created": _ts(invoice.created),
        "paidDate": _ts(invoice.paid_date),
        "dueDate": _ts(invoice.due_date),
        "paid": invoice.paid,
        "voided": invoice.voided,
        "uncollectible": invoice.uncollectible,
        "status": invoice.status,
        "amountUsdCents": invoice.amount_usd_cents,
        "amountUsd": invoice.amount_usd,
        "currency": invoice.currency,
        "organizationId": str(invoice.organization.id),
        "organizationName": invoice.organization.name,
    }


def normalized(record: dict[str, Any]) -> dict[str, Any]:
    """A record as printed, timestamps checked for ``Z`` and parsed, dollars as Decimal."""
    result = dict(record)
    for name in ("created", "paidDate", "dueDate"):
        if result[name] is not None:
            assert result[name].endswith("Z"), result[name]
            result[name] = datetime.fromisoformat(result[name].replace("Z", "+00:00")).isoformat()
    result["amountUsd"] = Decimal(result["amountUsd"])
    assert result["amountUsd"] == Decimal(result["amountUsdCents"]) / 100
    return result


def from_csv_row(row: dict[str, str]) -> dict[str, Any]:
    """Undo csv's everything-is-text: empty is null, true/false, integer cents."""
    record: dict[str, Any] = {name: (value or None) for name, value in row.items()}
    for name in ("paid", "voided", "uncollectible"):
        assert row[name] in ("true", "false")
        record[name] = row[name] == "true"
    record["amountUsdCents"] = int(row["amountUsdCents"])
    return record


def by_id(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {record["id"]: record for record in records}


def parse(format: str, text: str) -> list[dict[str, Any]]:
    if format == "json":
        data = json.loads(text)
        assert isinstance(data, list)
        return data
    if format == "jsonl":
        return [json.loads(line) for line in text.splitlines()]
    return [from_csv_row(row) for row in csv.DictReader(io.StringIO(text))]


# --- formats, against the SDK's own answer ---


def decoded(format: str, text: str) -> list[apibricks.Invoice]:
    """The CLI's json/jsonl read back by the SDK's own decoder (jsonl: line by line)."""
    if format == "json":
        return apibricks.decode_invoices(text)
    return [i for line in text.splitlines() for i in apibricks.decode_invoices(f"[{line}]")]


async def test_csv_report_row_matches_the_sdk(sandbox_url: str) -> None:
    result = await cli(
        "invoices", "paid", "--format", "csv", APIBRICKS_API_KEY=KEY, APIBRICKS_BASE_URL=sandbox_url
    )
    assert (result.code, result.err) == (0, "")
    invoices = await sdk_invoices(sandbox_url, KEY)
    records = [normalized(record) for record in parse("csv", result.out)]
    assert records == [expected(invoice) for invoice in invoices]  # one org: the API's order
    assert list(records[0]) == list(expected(invoices[0]))  # same columns, same order


@pytest.mark.parametrize("format", ["json", "jsonl"])
async def test_json_formats_are_the_api_records(sandbox_url: str, format: str) -> None:
    result = await cli(
        "invoices",
        "paid",
        "--format",
        format,
        APIBRICKS_API_KEY=KEY,
        APIBRICKS_BASE_URL=sandbox_url,
    )
    assert (result.code, result.err) == (0, "")
    assert decoded(format, result.out) == await sdk_invoices(sandbox_url, KEY)
    first = json.loads(result.out)[0] if format == "json" else json.loads(result.out.split("\n")[0])
    assert first["organization"]["id"] == first["idOrganization"]  # nested, camelCase
    assert first["paidDate"].endswith("Z")


async def test_table_has_key_columns_and_a_total(sandbox_url: str) -> None:
    result = await cli(
        "invoices", "paid", "--format", "table", "--api-key", KEY, "--base-url", sandbox_url
    )
    assert result.code == 0, result.err
    invoices = await sdk_invoices(sandbox_url, KEY)
    header, *rows, total = result.out.splitlines()
    assert header.split() == [
        "INVOICE",
        "PAID",
        "(UTC)",
        "AMOUNT",
        "USD",
        "CURRENCY",
        "STATUS",
        "ORGANIZATION",
    ]
    assert len(rows) == len(invoices)
    for row, invoice in zip(rows, invoices, strict=True):
        assert row.startswith(str(invoice.invoice_number))
        assert f"{invoice.amount_usd:,.2f}" in row
        assert str(invoice.organization.name)[:30] in row
    dollars = sum(invoice.amount_usd for invoice in invoices)
    assert total == f"{len(invoices)} invoices from 1 organization, total {dollars:,.2f} USD"


async def test_output_file_format_follows_its_suffix(sandbox_url: str, tmp_path: Path) -> None:
    target = tmp_path / "paid.csv"
    result = await cli(
        "invoices", "paid", "-o", str(target), APIBRICKS_API_KEY=KEY, APIBRICKS_BASE_URL=sandbox_url
    )
    assert (result.code, result.out, result.err) == (0, "", "")
    records = parse("csv", target.read_text(encoding="utf-8"))
    invoices = await sdk_invoices(sandbox_url, KEY)
    assert [normalized(r) for r in records] == [expected(i) for i in invoices]
    assert os.listdir(tmp_path) == ["paid.csv"]  # the temporary file is gone


# --- the sandbox: one command, no account ---


async def test_sandbox_needs_no_key(sandbox_url: str) -> None:
    result = await cli("invoices", "paid", "--sandbox", "--format", "jsonl")
    assert (result.code, result.err) == (0, "")
    invoices = await sdk_invoices(sandbox_url, sandbox.DEMO_KEY)  # same data on every sandbox
    assert decoded("jsonl", result.out) == invoices


async def test_sandbox_ignores_a_real_key_in_the_environment() -> None:
    result = await cli(
        "invoices",
        "paid",
        "--sandbox",
        "--keys-file",
        "-",
        stdin="sk_sandbox_one\nsk_sandbox_two\n",
        APIBRICKS_API_KEY=BAD_KEY,
    )
    assert (result.code, result.err) == (0, "")
    names = {record["organization"]["name"] for record in json.loads(result.out)}
    assert len(names) == 2


# --- fan-out: every good organization printed, the bad one summarised by its hint ---


async def test_keys_file_fan_out_with_one_bad_key(sandbox_url: str, tmp_path: Path) -> None:
    good = ["sk_sandbox_north", "sk_sandbox_south~503x1", "sk_sandbox_east"]
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text(
        f"# finance orgs\n{good[0]}\n\n  {good[1]}  \n{BAD_KEY}\n# {good[2]} later\n{good[2]}\n",
        encoding="utf-8",
    )
    result = await cli(
        "invoices",
        "paid",
        "--keys-file",
        str(keys_file),
        "--format",
        "jsonl",
        "--concurrency",
        "2",
        APIBRICKS_BASE_URL=sandbox_url,
    )
    assert result.code == 1
    assert BAD_KEY not in result.out + result.err
    lines = result.err.splitlines()
    assert len(lines) == 2, result.err  # no progress line: stderr is not a terminal
    assert lines[0].startswith(f"apibricks: error: {keys_file}:5: key ")
    assert apibricks._auth.key_hint(BAD_KEY) in lines[0]
    assert "AuthenticationError" in lines[0]
    assert "1 of 4 organizations failed" in lines[1]

    printed = decoded("jsonl", result.out)
    wanted = [i for key in good for i in await sdk_invoices(sandbox_url, key)]
    assert sorted(printed, key=repr) == sorted(wanted, key=repr)


async def test_single_key_api_error_is_one_line(sandbox_url: str) -> None:
    result = await cli(
        "invoices", "paid", "--base-url", sandbox_url, "--format", "json", APIBRICKS_API_KEY=BAD_KEY
    )
    assert result.code == 1
    assert json.loads(result.out) == []
    assert result.err.count("\n") == 1
    assert result.err.startswith("apibricks: error: key ")
    assert "AuthenticationError: 401" in result.err
    assert BAD_KEY not in result.err


async def test_ctrl_c_exits_130_quietly(sandbox_server: sandbox.Sandbox, sandbox_url: str) -> None:
    key = "sk_sandbox_acme~slow30"
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "apibricks", "invoices", "paid", "--format", "json"),
        cwd=ROOT,
        env=clean_env(APIBRICKS_API_KEY=key, APIBRICKS_BASE_URL=sandbox_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    for _ in range(200):  # until the request is in flight
        if sandbox_server.requests_for(key):
            break
        await asyncio.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 130
    assert out == b""  # an interrupted json document is not closed as if it were complete
    assert err.decode() == (
        "apibricks: error: interrupted; nothing saved: output to stdout cannot be resumed (no -o)\n"
    )


# --- usage errors: one line, exit 2, no traceback, no key ---


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        pytest.param([], {}, "no API key; set APIBRICKS_API_KEY", id="no-key"),
        pytest.param(["--keys-file", "/nonexistent/keys.txt"], {}, "cannot read", id="keys-file"),
        pytest.param(["--base-url", "ftp://example.com"], {"k": 1}, "not an absolute", id="scheme"),
        pytest.param(["--base-url", "http://example.com"], {"k": 1}, "unencrypted", id="http"),
        pytest.param(
            [], {"k": 1, "APIBRICKS_BASE_URL": "nope"}, "APIBRICKS_BASE_URL", id="env-url"
        ),
        pytest.param(["--format", "xml"], {"k": 1}, "invalid choice: 'xml'", id="format"),
        pytest.param(["--concurrency", "0"], {"k": 1}, "whole number >= 1", id="concurrency"),
        pytest.param(["--timeout", "soon"], {"k": 1}, "expected seconds", id="timeout"),
        pytest.param(["--max-retries", "-1"], {"k": 1}, "whole number >= 0", id="retries"),
        pytest.param(["--api-key", "a\x01b"], {}, "non-printable", id="bad-key"),
        pytest.param(["--sandbox", "--base-url", "https://x.io"], {}, "exclude", id="sandbox+url"),
        pytest.param(["--output", "/nonexistent/dir/out.json"], {"k": 1}, "cannot write", id="out"),
        pytest.param(["--bogus"], {"k": 1}, "unrecognized arguments", id="unknown-flag"),
        pytest.param(["-o", "r.xlsx"], {"k": 1}, ".json .jsonl .ndjson .csv", id="suffix"),
        pytest.param(["-o", "report"], {"k": 1}, "has no suffix", id="no-suffix"),
        pytest.param(["--resume"], {"k": 1}, "--resume needs --output", id="resume-stdout"),
        pytest.param(["--resume", "-o", "r.json"], {"k": 1}, "use -o FILE.jsonl", id="resume-json"),
        pytest.param(["--shard", "1/2"], {"k": 1}, "--shard splits a --keys-file", id="shard-1"),
        pytest.param(["--shard", "3/2"], {"k": 1}, "1 <= I <= N", id="shard-range"),
        pytest.param(["--shard", "x"], {"k": 1}, "expected I/N", id="shard-syntax"),
        pytest.param(["-o", "/", "--format", "json"], {"k": 1}, "is a directory", id="out-dir"),
        pytest.param(["--rate-limit", "0"], {"k": 1}, "per second > 0", id="rate-limit"),
        pytest.param(["--progress", "--quiet"], {"k": 1}, "not allowed with", id="progress+quiet"),
    ],
)
def test_usage_errors_are_one_line(
    args: list[str],
    env: dict[str, Any],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("APIBRICKS_API_KEY", "APIBRICKS_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    if env.pop("k", None):
        monkeypatch.setenv("APIBRICKS_API_KEY", BAD_KEY)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["invoices", "paid", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("apibricks: error: ") and err.count("\n") == 1, err
    assert expected in err
    assert BAD_KEY not in err


def test_empty_keys_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("# nothing yet\n\n", encoding="utf-8")
    assert main(["invoices", "paid", "--keys-file", str(keys_file)]) == 2
    assert "has no keys" in capsys.readouterr().err


async def test_usage_error_as_a_subprocess_has_no_traceback() -> None:
    result = await cli("invoices", "paid", "--concurrency", "many")
    assert result.code == 2
    assert result.out == ""
    assert result.err == (
        "apibricks: error: argument --concurrency: expected a whole number >= 1, got 'many'; "
        "see 'apibricks invoices paid --help'\n"
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"apibricks {apibricks.__version__}\n"
