"""Each organization counted once by the command line, as `paid_invoices_by_organization`
counts it: a key listed twice is fetched once, two keys of one organization write its
invoices once, in every format, and a resumed run keeps that promise across runs.

End to end runs are subprocesses against a sandbox on loopback; the rules themselves are
also checked as properties (hypothesis) against the library's own report.
"""

from __future__ import annotations

import csv
import io
import os
import re
import uuid
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cli import cli, decoded

import apibricks
from apibricks import sandbox
from apibricks._outcome import Outcome, PaidInvoicesReport
from apibricks.cli._keys import KeySource
from apibricks.cli._once import WrittenOnce
from apibricks.cli._plan import make_plan

FORMATS = ["table", "json", "jsonl", "csv", "parquet"]
Identity = tuple[str, str, int]  # organization, invoice id, cents


def sandbox_invoices(key: str) -> list[apibricks.Invoice]:
    return apibricks.decode_invoices(sandbox.make_invoices_payload(key))


def library_report(keys: Sequence[str]) -> PaidInvoicesReport:
    """What `paid_invoices_by_organization` reports for ``keys`` (the sandbox's answers)."""
    outcomes = [Outcome(n, key, value=sandbox_invoices(key)) for n, key in enumerate(keys)]
    return PaidInvoicesReport.from_outcomes(outcomes)


def table_summary(text: str) -> tuple[int, int, Decimal]:
    """(invoices, organizations, total) from the table's last line."""
    match = re.fullmatch(
        r"(\d+) invoices? from (\d+) organizations?, total ([\d,.]+) USD",
        text.splitlines()[-1],
    )
    assert match, text.splitlines()[-1]
    return int(match[1]), int(match[2]), Decimal(match[3].replace(",", ""))


def written(format: str, out: str, path: Path | None) -> list[Identity]:
    """Every invoice the run wrote, as (organization, invoice id, cents)."""
    if format in ("json", "jsonl"):
        invoices = decoded(format, out)
        return [(str(i.id_organization), str(i.id), i.amount_usd_cents) for i in invoices]
    if format == "csv":
        rows = csv.DictReader(io.StringIO(out, newline=""))
        return [(r["idOrganization"], r["id"], int(r["amountUsdCents"])) for r in rows]
    assert format == "parquet" and path is not None
    parquet = pytest.importorskip("pyarrow.parquet")
    table = parquet.read_table(path, columns=["id_organization", "id", "amount_usd_cents"])
    return [
        (str(row["id_organization"]), row["id"], row["amount_usd_cents"])
        for row in table.to_pylist()
    ]


async def run_formats(
    url: str, keys: Sequence[str], format: str, tmp_path: Path
) -> tuple[str, str, list[Identity] | None]:
    """Run the CLI over ``keys`` in ``format``; (stdout, stderr, invoices written)."""
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("".join(f"{key}\n" for key in keys), encoding="utf-8")
    target = tmp_path / "out.parquet" if format == "parquet" else None
    where = ("-o", str(target)) if target else ()
    result = await cli(
        "invoices", "paid", "--keys-file", str(keys_file), "--format", format, *where,
        APIBRICKS_BASE_URL=url,
    )  # fmt: skip
    assert result.code == 0, result.err
    invoices = None if format == "table" else written(format, result.out, target)
    return result.out, result.err.replace(f"{tmp_path}{os.sep}", ""), invoices


def assert_counted_once(
    keys: Sequence[str], format: str, out: str, invoices: list[Identity] | None
) -> None:
    report = library_report(keys)
    organizations = {str(i.id_organization) for e in report for i in e.invoices}
    if invoices is None:  # the table: its total line
        assert table_summary(out) == (
            report.invoice_count,
            len(organizations),
            report.total_usd,
        )
        return
    assert len(invoices) == len(set(invoices)) == report.invoice_count  # no invoice twice
    assert sum(cents for _, _, cents in invoices) == report.total_usd_cents
    assert {org for org, _, _ in invoices} == organizations


# --- a key listed twice: fetched once, written once, the lines named on stderr ---


@pytest.mark.parametrize("format", FORMATS)
async def test_a_key_listed_twice_is_fetched_and_written_once(
    sandbox_server: sandbox.Sandbox, sandbox_url: str, tmp_path: Path, format: str
) -> None:
    keys = ["sk_sandbox_acme", "sk_sandbox_other~n3", "sk_sandbox_acme", "sk_sandbox_acme"]
    out, err, invoices = await run_formats(sandbox_url, keys, format, tmp_path)
    assert sandbox_server.requests_for("sk_sandbox_acme") == 1
    assert_counted_once(keys, format, out, invoices)
    assert err == (
        "apibricks: warning: keys.txt: skipped 2 duplicate lines (3, 4): each key is fetched once\n"
    )


async def test_the_documented_total_is_not_doubled(sandbox_url: str, tmp_path: Path) -> None:
    """The issue's case: acme twice used to print 50 invoices from 2 organizations."""
    out, _, _ = await run_formats(sandbox_url, ["sk_sandbox_acme"] * 2, "table", tmp_path)
    once, _, _ = await run_formats(sandbox_url, ["sk_sandbox_acme"], "table", tmp_path)
    assert table_summary(out) == table_summary(once)
    assert table_summary(out)[:2] == (25, 1)


async def test_a_hundred_thousand_duplicate_lines(
    sandbox_server: sandbox.Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    """Deduplicated as the file is read: each key once, the lines counted, never shown."""
    keys = ["sk_sandbox_big1~n2", "sk_sandbox_big2~n1", "sk_sandbox_big3~n3"]
    lines = [keys[n % 3] for n in range(100_003)]
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = await cli(
        "invoices", "paid", "--keys-file", str(keys_file), "--format", "jsonl",
        APIBRICKS_BASE_URL=sandbox_url,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert [sandbox_server.requests_for(key) for key in keys] == [1, 1, 1]
    assert len(result.out.splitlines()) == 6
    assert result.err == (
        f"apibricks: warning: {keys_file}: skipped 100,000 duplicate lines "
        "(4, 5, 6, 7, 8, 9, 10, 11, 12, 13, … 99,990 more): each key is fetched once\n"
    )
    assert not any(key in result.err for key in keys)


# --- two keys, one organization: its invoices written once, as the library counts them ---


@pytest.mark.parametrize("format", FORMATS)
async def test_two_keys_of_one_organization_write_it_once(
    sandbox_url: str, tmp_path: Path, format: str
) -> None:
    # the same organization behind three keys; one of them answers with more invoices
    keys = ["sk_sandbox_acme~n3", "sk_sandbox_solo~n2", "sk_sandbox_acme~n5", "sk_sandbox_acme"]
    out, err, invoices = await run_formats(sandbox_url, keys, format, tmp_path)
    assert_counted_once(keys, format, out, invoices)
    # the two keys of acme that answered after the first are named, by line
    note = re.fullmatch(
        r"apibricks: note: 2 keys \((keys.txt:\d), (keys.txt:\d)\) reached an organization "
        r"another key already reached: each invoice is written once\n",
        err,
    )
    assert note, err
    assert {note[1], note[2]} < {"keys.txt:1", "keys.txt:3", "keys.txt:4"}
    assert not any(key in err for key in keys)


async def test_a_resumed_run_does_not_write_an_organization_again(
    sandbox_server: sandbox.Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    keys_file = tmp_path / "keys.txt"
    output = tmp_path / "run.jsonl"
    args = ("invoices", "paid", "--keys-file", str(keys_file), "-o", str(output), "--resume")
    keys_file.write_text("sk_sandbox_acme\n", encoding="utf-8")
    assert (await cli(*args, APIBRICKS_BASE_URL=sandbox_url)).code == 0
    keys_file.write_text("sk_sandbox_acme\nsk_sandbox_acme~n25\nsk_sandbox_else~n2\n")
    second = await cli(*args, APIBRICKS_BASE_URL=sandbox_url)
    assert second.code == 0, second.err
    assert sandbox_server.requests_for("sk_sandbox_acme") == 1
    got = written("jsonl", output.read_text(encoding="utf-8"), None)
    assert len(got) == len(set(got)) == 27


@pytest.mark.parametrize("parts", [1, 2])
def test_a_resumed_parquet_run_does_not_write_an_organization_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: int
) -> None:
    pytest.importorskip("pyarrow.parquet")
    from apibricks.cli import main
    from apibricks.cli._parts import PartsLedger

    monkeypatch.setattr(PartsLedger, "part_organizations", parts)
    keys_file = tmp_path / "keys.txt"
    output = tmp_path / "run.parquet"
    argv = ["invoices", "paid", "--keys-file", str(keys_file), "-o", str(output), "--resume"]
    with sandbox.serve_in_thread() as url:
        monkeypatch.setenv("APIBRICKS_BASE_URL", url)
        keys_file.write_text("sk_sandbox_pq~n4\nsk_sandbox_pr~n1\n", encoding="utf-8")
        assert main(argv) == 0
        keys_file.write_text("sk_sandbox_pq~n4\nsk_sandbox_pr~n1\nsk_sandbox_pq~n6\n")
        assert main(argv) == 0
    got = written("parquet", "", output)
    assert len(got) == len(set(got)) == 5


# --- the rules as properties ---

POOL = ["sk_sandbox_a", "sk_sandbox_b", "sk_sandbox_c~n0"]
VARIANTS = st.sampled_from(["", "~n1", "~n4", "~n30", "~503x1"])
KEYS = st.lists(st.tuples(st.sampled_from(POOL), VARIANTS).map("".join), max_size=12)


@settings(max_examples=60, deadline=None)
@given(keys=KEYS, order=st.randoms(use_true_random=False))
def test_written_once_agrees_with_the_library_in_any_completion_order(
    keys: list[str], order: object
) -> None:
    """Whatever order the answers arrive in, what is written is the library's total."""
    answers = [sandbox_invoices(key) for key in keys]
    arrival = list(range(len(keys)))
    order.shuffle(arrival)  # type: ignore[attr-defined]
    once = WrittenOnce()
    out = [i for n in arrival for i in once.fresh(answers[n])[0]]
    report = library_report(keys)
    assert len(out) == report.invoice_count
    assert sum(i.amount_usd_cents for i in out) == report.total_usd_cents
    assert len({(i.id_organization, i.id) for i in out}) == len(out)


@settings(max_examples=60, deadline=None)
@given(keys=KEYS, size=st.integers(1, 40), order=st.randoms(use_true_random=False))
def test_written_once_in_batches_agrees_with_the_library(
    keys: list[str], size: int, order: object
) -> None:
    """A key's answer reaches the writer in batches (large organizations stream): the same
    total, and a key's first batch tells whether another key reached its organization."""
    answers = [sandbox_invoices(key) for key in keys]
    arrival = list(range(len(keys)))
    order.shuffle(arrival)  # type: ignore[attr-defined]
    once = WrittenOnce()
    out: list[apibricks.Invoice] = []
    reached: set[object] = set()
    for n in arrival:
        batches = [answers[n][i : i + size] for i in range(0, len(answers[n]), size)]
        for number, batch in enumerate(batches):
            new, seen = once.fresh(batch)
            if number == 0:
                assert seen == (batch[0].id_organization in reached)
            out += new
        reached.update(i.id_organization for i in answers[n])
    report = library_report(keys)
    assert len(out) == report.invoice_count
    assert sum(i.amount_usd_cents for i in out) == report.total_usd_cents


@given(keys=KEYS)
def test_written_once_after_a_ledger_adds_nothing_of_a_committed_organization(
    keys: list[str],
) -> None:
    answers = [sandbox_invoices(key) for key in keys]
    committed = {str(a[0].id_organization) for a in answers[:1] if a}
    once = WrittenOnce(committed)
    out = [i for answer in answers for i in once.fresh(answer)[0]]
    assert not {str(i.id_organization) for i in out} & committed


@given(lines=st.lists(st.sampled_from(["sk_sandbox_x", "sk_sandbox_y", "sk_live_z1234567"])))
def test_a_plan_fetches_each_distinct_key_once_in_first_seen_order(lines: list[str]) -> None:
    sources = [KeySource(key, f"keys.txt:{n}") for n, key in enumerate(lines, 1)]
    plan = make_plan(sources)
    fetched = [source.key for source in plan.keys]
    assert fetched == list(dict.fromkeys(lines))
    assert plan.todo == len(fetched)
    assert plan.duplicate_count == len(lines) - len(fetched)
    first = {}
    repeats = [n for n, key in enumerate(lines, 1) if first.setdefault(key, n) != n]
    assert plan.duplicates == [f"keys.txt:{n}" for n in repeats[:10]]
    note = plan.duplicates_note("keys.txt") or ""
    assert not any(key in note for key in lines)


def test_uuid_of_a_committed_organization_from_a_hand_edited_ledger_is_ignored() -> None:
    org = sandbox_invoices("sk_sandbox_acme")[0].id_organization
    assert isinstance(org, uuid.UUID)
    once = WrittenOnce(["not-a-uuid", str(org)])
    assert once.fresh(sandbox_invoices("sk_sandbox_acme")) == ([], True)
