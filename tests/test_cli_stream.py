"""The command line streams each organization: a huge one goes to disk in bounded memory.

`cli._fetched` holds an organization's invoices in memory while few and spills the rest
to a temporary file; these tests shrink the spill point so every format runs through the
spilled path, and compare with the records of a run that never spills.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_cli import clean_env
from test_iter_paid import PEAK_RSS_MB

import apibricks
from apibricks import sandbox
from apibricks.cli import _fetched, main
from apibricks.cli._fetched import Fetched

KEYS = [f"sk_sandbox_spill{n}~n{n * 9}" for n in range(5)]  # spill0 has no invoices


def invoices_of(url: str, key: str) -> list[apibricks.Invoice]:
    with apibricks.Client(api_key=key, base_url=url) as client:
        return client.invoices.list_paid()


def test_spilled_invoices_come_back_equal_and_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fetched, "SPILL", 7)
    monkeypatch.setattr(_fetched, "BATCH", 4)
    body = sandbox.make_invoices_payload("sk_sandbox_spilled", 30)
    wanted = apibricks.decode_invoices(body)
    fetched = Fetched()
    for invoice in wanted:
        fetched.add(invoice)
    batches = list(fetched.batches())
    fetched.close()
    assert [i for batch in batches for i in batch] == wanted
    assert max(len(batch) for batch in batches) <= 7


def test_a_fetch_dropped_unread_closes_its_file_without_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An outcome a stopped run never reads is collected quietly (warnings are errors here)."""
    monkeypatch.setattr(_fetched, "SPILL", 2)
    fetched = Fetched()
    for invoice in apibricks.decode_invoices(sandbox.make_invoices_payload("sk_sandbox_d", 5)):
        fetched.add(invoice)
    spill = fetched._spill
    assert spill is not None
    del fetched
    assert spill.closed


def test_an_organization_in_batches_is_written_once_and_not_called_repeated() -> None:
    from apibricks.cli._once import WrittenOnce

    invoices = apibricks.decode_invoices(sandbox.make_invoices_payload("sk_sandbox_b", 10))
    once = WrittenOnce()
    first = [once.fresh(invoices[n : n + 3]) for n in range(0, 10, 3)]
    assert [i for new, _ in first for i in new] == invoices
    assert first[0][1] is False  # the key's first batch: a new organization
    other = apibricks.decode_invoices(sandbox.make_invoices_payload("sk_sandbox_c", 4))
    assert once.fresh(other) == (other, False)
    again = [once.fresh(invoices[n : n + 4]) for n in range(0, 10, 4)]  # a second key
    assert again == [([], True)] * 3


@pytest.mark.parametrize("format", ["jsonl", "json", "csv", "parquet", "table"])
def test_every_format_writes_the_same_through_the_spill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, format: str
) -> None:
    if format == "parquet":
        pytest.importorskip("pyarrow")
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(KEYS) + "\n", encoding="utf-8")
    with sandbox.serve_in_thread() as url:
        monkeypatch.setenv("APIBRICKS_BASE_URL", url)
        outputs = []
        for spill in (10**9, 5):  # never, then every few invoices
            monkeypatch.setattr(_fetched, "SPILL", spill)
            monkeypatch.setattr(_fetched, "BATCH", 3)
            target = tmp_path / f"{spill}.{format}"
            argv = ["invoices", "paid", "--keys-file", str(keys_file), "--format", format]
            assert main([*argv, "-o", str(target), "--concurrency", "1"]) == 0
            outputs.append(target.read_bytes())
        assert outputs[0] == outputs[1]
        total = sum(len(invoices_of(url, key)) for key in KEYS)
    if format == "jsonl":
        assert len(outputs[0].splitlines()) == total == 9 * sum(range(5))


@pytest.mark.parametrize("format", ["jsonl", "parquet"])
def test_resume_commits_whole_organizations_through_the_spill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, format: str
) -> None:
    if format == "parquet":
        pytest.importorskip("pyarrow")
        from apibricks.cli._parts import PartsLedger

        monkeypatch.setattr(PartsLedger, "rows_per_group", 4)  # a part over many row groups
    monkeypatch.setattr(_fetched, "SPILL", 5)
    monkeypatch.setattr(_fetched, "BATCH", 3)
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(KEYS) + "\n", encoding="utf-8")
    target = tmp_path / f"out.{format}"
    with sandbox.serve_in_thread() as url:
        monkeypatch.setenv("APIBRICKS_BASE_URL", url)
        argv = ["invoices", "paid", "--keys-file", str(keys_file), "-o", str(target), "--resume"]
        assert main(argv) == 0
        wanted = sorted(i.id for key in KEYS for i in invoices_of(url, key))
    if format == "jsonl":
        got = sorted(json.loads(line)["id"] for line in target.read_text().splitlines())
    else:
        import pyarrow.parquet as pq

        got = sorted(pq.read_table(target).column("id").to_pylist())
    assert got == wanted


MEMORY_CHILD = PEAK_RSS_MB + textwrap.dedent(
    """
    import sys
    from apibricks import sandbox
    from apibricks.cli import main

    with sandbox.serve_in_thread() as url:
        code = main([
            "invoices", "paid", "--api-key", "sk_sandbox_huge~big{count}", "--base-url", url,
            "--format", "jsonl", "-o", sys.argv[1], "--quiet",
        ])
    print(code, peak_mb())
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_a_huge_organization_goes_to_disk_in_bounded_memory(tmp_path: Path) -> None:
    count = 60_000  # ~124 MB of JSON
    target = tmp_path / "huge.jsonl"
    run = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD.format(count=count), str(target)],
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_env(),
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # one key, one organization: nothing "reached twice"
    code, peak = run.stdout.split()
    assert code == "0"
    with target.open("rb") as lines:
        assert sum(1 for _ in lines) == count
    assert float(peak) < 150, f"peak RSS {peak} MB for a ~124 MB organization"
