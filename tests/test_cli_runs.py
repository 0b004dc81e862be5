"""Long runs from the command line: outputs never half-written, resume after kill -9,
shards, the rate limit, progress and verbose logging.

Every run is a real subprocess against a real sandbox on loopback; kills are real signals.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_cli import KEY, ROOT, clean_env, cli, decoded, sdk_invoices

import apibricks
from apibricks import sandbox
from apibricks.cli._args import parse_config


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def by_identity(invoices: list[apibricks.Invoice]) -> list[apibricks.Invoice]:
    return sorted(invoices, key=lambda i: (str(i.id_organization), i.id))


def ledger_entries(path: Path) -> list[dict[str, object]]:
    """The ledger's complete entries (a line cut by kill -9 is not one)."""
    entries = []
    for line in path.read_bytes().splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        entry = json.loads(line)
        if "key" in entry:
            entries.append(entry)
    return entries


async def until(condition: object, timeout: float = 30.0) -> None:
    """Wait for ``condition()`` to hold, polling, with a deadline (a file has no event)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def slow_sandbox() -> AsyncIterator[sandbox.Sandbox]:
    server = sandbox.Sandbox(latency=0.1)
    async with server.serve():
        yield server


# --- --resume: kill -9 at any moment, rerun, every invoice exactly once ---


async def test_resume_after_kill_9_fetches_only_what_is_missing(
    slow_sandbox: sandbox.Sandbox, tmp_path: Path
) -> None:
    url = slow_sandbox.url
    assert url is not None
    keys = [f"sk_sandbox_resume{n}~n{n % 4 * 3}" for n in range(40)]  # some have no invoices
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(keys) + "\n", encoding="utf-8")
    output, ledger = tmp_path / "run.jsonl", tmp_path / "run.jsonl.ledger"
    command = (
        *(sys.executable, "-m", "apibricks", "invoices", "paid", "--keys-file", str(keys_file)),
        *("-o", str(output), "--resume", "--concurrency", "2"),
    )
    first = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=clean_env(APIBRICKS_BASE_URL=url), stderr=asyncio.subprocess.PIPE
    )
    try:
        await until(lambda: ledger.exists() and len(ledger_entries(ledger)) >= 6)
    finally:
        first.kill()  # SIGKILL: no cleanup of any kind
        await first.communicate()
    assert first.returncode == -signal.SIGKILL
    finished = {entry["key"] for entry in ledger_entries(ledger)}
    assert 6 <= len(finished) < len(keys)

    slow_sandbox.reset_stats()
    second = await cli(
        "invoices", "paid", "--keys-file", str(keys_file), "-o", str(output), "--resume",
        "--concurrency", "4", APIBRICKS_BASE_URL=url,
    )  # fmt: skip
    assert second.code == 0, second.err
    assert second.err.startswith(f"apibricks: resuming: {len(finished)} of {len(keys)} ")
    for key in keys:  # the second run asked only for the missing organizations
        assert slow_sandbox.requests_for(key) == (0 if fingerprint(key) in finished else 1), key

    wanted = [i for key in keys for i in await sdk_invoices(url, key)]
    got = decoded("jsonl", output.read_text(encoding="utf-8"))
    assert by_identity(got) == by_identity(wanted)  # every invoice, exactly once
    ledger_text = ledger.read_text(encoding="utf-8")
    assert not any(key in ledger_text for key in keys)  # fingerprints only
    assert {entry["key"] for entry in ledger_entries(ledger)} == {fingerprint(k) for k in keys}


async def test_resume_drops_records_written_but_not_ledgered(
    sandbox_url: str, tmp_path: Path
) -> None:
    """The instant kill -9 can hit: records appended, ledger line not (or half) written."""
    keys = [f"sk_sandbox_cut{n}" for n in range(3)]
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(keys[:2]) + "\n", encoding="utf-8")
    output, ledger = tmp_path / "run.jsonl", tmp_path / "run.jsonl.ledger"
    args = ("invoices", "paid", "--keys-file", str(keys_file), "-o", str(output), "--resume")
    assert (await cli(*args, APIBRICKS_BASE_URL=sandbox_url)).code == 0
    complete = output.read_bytes()
    # the third organization's records landed, one of them cut; its ledger line was cut too
    extra = sandbox.make_invoices_payload(keys[2]).decode()
    records = json.loads(extra)
    with output.open("a", encoding="utf-8") as out:
        out.write(json.dumps(records[0]) + "\n" + json.dumps(records[1])[:40])
    with ledger.open("a", encoding="utf-8") as out:
        out.write('{"key": "' + fingerprint(keys[2])[:10])

    keys_file.write_text("\n".join(keys) + "\n", encoding="utf-8")
    result = await cli(*args, APIBRICKS_BASE_URL=sandbox_url)
    assert result.code == 0, result.err
    assert output.read_bytes().startswith(complete)
    wanted = [i for key in keys for i in await sdk_invoices(sandbox_url, key)]
    assert by_identity(decoded("jsonl", output.read_text(encoding="utf-8"))) == by_identity(wanted)
    assert len(ledger_entries(ledger)) == 3


async def test_resume_refuses_a_file_it_did_not_write(sandbox_url: str, tmp_path: Path) -> None:
    output = tmp_path / "run.jsonl"
    output.write_text("precious\n", encoding="utf-8")
    result = await cli(
        "invoices", "paid", "-o", str(output), "--resume", APIBRICKS_API_KEY=KEY,
        APIBRICKS_BASE_URL=sandbox_url,
    )  # fmt: skip
    assert result.code == 2
    assert "has no ledger" in result.err
    assert output.read_text(encoding="utf-8") == "precious\n"


async def test_resume_retries_failed_organizations(
    sandbox_server: sandbox.Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    keys = ["sk_sandbox_fine", "sk_sandbox_flaky~500x3"]  # fails all 3 attempts of run one
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(keys) + "\n", encoding="utf-8")
    output = tmp_path / "run.jsonl"
    args = ("invoices", "paid", "--keys-file", str(keys_file), "-o", str(output), "--resume")
    first = await cli(*args, APIBRICKS_BASE_URL=sandbox_url)
    assert first.code == 1
    assert "rerun with --resume" in first.err
    second = await cli(*args, APIBRICKS_BASE_URL=sandbox_url)
    assert second.code == 0, second.err
    assert sandbox_server.requests_for(keys[0]) == 1  # fetched once over both runs
    wanted = [i for key in keys for i in await sdk_invoices(sandbox_url, key)]
    assert by_identity(decoded("jsonl", output.read_text(encoding="utf-8"))) == by_identity(wanted)


# --- -o is never half-written ---


@pytest.mark.parametrize(
    ("signum", "code", "name"),
    [(signal.SIGINT, 130, "paid.json"), (signal.SIGTERM, 143, "paid.parquet")],
)
async def test_interrupted_run_leaves_the_target_untouched(
    sandbox_server: sandbox.Sandbox,
    sandbox_url: str,
    tmp_path: Path,
    signum: int,
    code: int,
    name: str,
) -> None:
    keys = ["sk_sandbox_quick", "sk_sandbox_stuck~slow30"]
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(keys) + "\n", encoding="utf-8")
    target = tmp_path / name
    target.write_text("yesterday's report\n", encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "apibricks", "invoices", "paid", "--keys-file", str(keys_file)),
        *("-o", str(target)),
        cwd=ROOT,
        env=clean_env(APIBRICKS_BASE_URL=sandbox_url),
        stderr=asyncio.subprocess.PIPE,
    )
    await until(lambda: all(sandbox_server.requests_for(key) for key in keys))
    proc.send_signal(signum)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == code, err
    assert target.read_text(encoding="utf-8") == "yesterday's report\n"
    assert sorted(os.listdir(tmp_path)) == ["keys.txt", name]  # no temporary left


async def test_failed_organization_still_replaces_the_target(
    sandbox_url: str, tmp_path: Path
) -> None:
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("sk_sandbox_good\nsk_live_unknown\n", encoding="utf-8")
    target = tmp_path / "paid.jsonl"
    target.write_text("old\n", encoding="utf-8")
    os.chmod(target, 0o640)
    result = await cli(
        "invoices", "paid", "--keys-file", str(keys_file), "-o", str(target),
        APIBRICKS_BASE_URL=sandbox_url,
    )  # fmt: skip
    assert result.code == 1
    got = decoded("jsonl", target.read_text(encoding="utf-8"))
    assert got == await sdk_invoices(sandbox_url, "sk_sandbox_good")
    assert target.stat().st_mode & 0o777 == 0o640  # the file keeps its mode


# --- --shard I/N ---


def test_shards_are_disjoint_deterministic_and_cover_every_key(tmp_path: Path) -> None:
    keys = [f"sk_sandbox_shard{n}" for n in range(300)]
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(keys) + "\n", encoding="utf-8")

    def shard(spec: str) -> list[str]:
        argv = ["invoices", "paid", "--keys-file", str(keys_file), "--shard", spec]
        config = parse_config(argv, {}, io.StringIO(), io.StringIO())
        return [source.key for source in config.keys]

    shards = [shard(f"{i}/4") for i in range(1, 5)]
    assert sorted(key for part in shards for key in part) == sorted(keys)  # cover, disjoint
    assert all(len(part) > 40 for part in shards)  # a fair share each
    assert shard("2/4") == shards[1]  # deterministic
    by_fingerprint = [k for k in keys if int(fingerprint(k)[:16], 16) % 4 == 2]
    assert shards[2] == by_fingerprint  # documented: bucket I-1 of the SHA-256 fingerprint
    assert shard("1/1") == keys


async def test_a_shard_fetches_only_its_keys(
    sandbox_server: sandbox.Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    keys = [f"sk_sandbox_split{n}~n1" for n in range(12)]
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(keys) + "\n", encoding="utf-8")
    result = await cli(
        "invoices", "paid", "--keys-file", str(keys_file), "--shard", "2/3", "--format", "jsonl",
        APIBRICKS_BASE_URL=sandbox_url,
    )  # fmt: skip
    assert result.code == 0, result.err
    mine = [k for k in keys if int(fingerprint(k)[:16], 16) % 3 == 1]
    assert [k for k in keys if sandbox_server.requests_for(k)] == mine
    assert len(decoded("jsonl", result.out)) == len(mine)


# --- --rate-limit ---


async def test_rate_limit_spaces_the_requests(sandbox_url: str, tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(f"sk_sandbox_rl{n}~n1" for n in range(6)) + "\n")
    result = await cli(
        "invoices", "paid", "--keys-file", str(keys_file), "--rate-limit", "10", "--progress",
        "--format", "jsonl", APIBRICKS_BASE_URL=sandbox_url,
    )  # fmt: skip
    assert result.code == 0, result.err
    # 6 starts at most 10/s span at least 0.5 s: the progress line's rate says so
    line = [line for line in result.err.splitlines() if "6/6" in line][-1]  # the final line
    rate = float(line.split(", ")[1].removesuffix("/s"))
    assert rate <= 6 / 0.5


# --- progress and verbosity on stderr ---


async def test_progress_line_when_stderr_is_not_a_terminal(sandbox_url: str) -> None:
    result = await cli(
        "invoices", "paid", "--keys-file", "-", "--progress", "--format", "jsonl",
        stdin="sk_sandbox_p1\nsk_sandbox_p2\nsk_live_nope\n", APIBRICKS_BASE_URL=sandbox_url,
    )  # fmt: skip
    assert result.code == 1
    progress = [line for line in result.err.splitlines() if "progress" in line]
    assert progress[-1].startswith("apibricks: progress: 3/3 organizations, 1 failed, ")
    assert "/s, elapsed 0:00:0" in progress[-1]


async def test_quiet_and_default_print_no_progress(sandbox_url: str) -> None:
    for flags in ((), ("--quiet",)):
        result = await cli(
            "invoices", "paid", "--keys-file", "-", *flags, "--format", "jsonl",
            stdin="sk_sandbox_q1\n", APIBRICKS_BASE_URL=sandbox_url,
        )  # fmt: skip
        assert (result.code, result.err) == (0, "")


async def test_verbose_logs_retries_and_requests_without_the_key(sandbox_url: str) -> None:
    quiet = await cli(
        "invoices", "paid", APIBRICKS_API_KEY="sk_sandbox_q~503x1", APIBRICKS_BASE_URL=sandbox_url
    )
    assert (quiet.code, quiet.err) == (0, "")
    key = "sk_sandbox_verbose~503x1"  # attempts are counted per key: a fresh one each run
    info = await cli(
        "invoices", "paid", "-v", APIBRICKS_API_KEY=key, APIBRICKS_BASE_URL=sandbox_url
    )
    assert info.code == 0
    (line,) = info.err.splitlines()  # one line per retry, nothing per attempt
    assert " INFO apibricks" in line and "retrying in" in line and "503" in line
    key = "sk_sandbox_verbose2~503x1"
    debug = await cli(
        "invoices", "paid", "-vv", APIBRICKS_API_KEY=key, APIBRICKS_BASE_URL=sandbox_url
    )
    assert debug.code == 0
    assert len(debug.err.splitlines()) == 3  # two attempts and the retry between them
    assert sum(" DEBUG " in line for line in debug.err.splitlines()) == 2
    assert key not in info.err + debug.err


# --- --resume to a directory of Parquet parts ---


def test_parquet_resume_drops_uncommitted_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The crash states of a parts directory: a part renamed but not ledgered, a temp file."""
    parquet = pytest.importorskip("pyarrow.parquet")
    from apibricks.cli import main
    from apibricks.cli._parts import PartsLedger

    monkeypatch.setattr(PartsLedger, "part_organizations", 2)
    monkeypatch.setattr(PartsLedger, "part_seconds", 3600.0)  # parts by count alone: no clock
    keys = [f"sk_sandbox_parts{n}~n{n % 3 * 4}" for n in range(6)]  # some have no invoices
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(keys) + "\n", encoding="utf-8")
    output, ledger = tmp_path / "run.parquet", tmp_path / "run.parquet.ledger"
    server = sandbox.Sandbox()
    with server.serve_in_thread() as url:
        argv = ["invoices", "paid", "--keys-file", str(keys_file), "-o", str(output)]
        monkeypatch.setenv("APIBRICKS_BASE_URL", url)
        assert main([*argv, "--resume", "--concurrency", "1"]) == 0
        lines = ledger.read_text(encoding="utf-8").splitlines(keepends=True)
        assert len(lines) == 4  # the header, then a part per two organizations
        last = json.loads(lines[-1])
        # a crash after the last part was renamed, while its ledger line was being written
        ledger.write_text("".join(lines[:-1]) + lines[-1][:25], encoding="utf-8")
        (output / ".part-000009.parquet.tmp").write_bytes(b"PAR1 cut")
        server.reset_stats()
        capsys.readouterr()
        assert main([*argv, "--resume"]) == 0
        assert capsys.readouterr().err.startswith("apibricks: resuming: 4 of 6 ")
        refetched = {k for k in keys if server.requests_for(k)}
        assert {fingerprint(k) for k in refetched} == set(last["keys"])
        with apibricks.Client(base_url=url) as client:
            wanted = [i for k in keys for i in client.with_api_key(k).invoices.list_paid()]
    order = [("id_organization", "ascending"), ("id", "ascending")]
    table = parquet.read_table(output).sort_by(order)
    assert table.to_pylist() == apibricks.to_arrow(wanted).sort_by(order).to_pylist()
    assert not [p for p in os.listdir(output) if p.endswith(".tmp")]

    (output / "part-000000.parquet").unlink()  # a committed part lost: resuming would lose it
    assert main([*argv, "--resume"]) == 2
    assert "lacks part-000000.parquet" in capsys.readouterr().err


async def test_a_plain_run_replaces_the_output_and_drops_its_ledger(
    sandbox_server: sandbox.Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    keys = ["sk_sandbox_twice", "sk_sandbox_other", "sk_sandbox_twice"]  # a duplicate
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(keys) + "\n", encoding="utf-8")
    output, ledger = tmp_path / "run.jsonl", tmp_path / "run.jsonl.ledger"
    args = ("invoices", "paid", "--keys-file", str(keys_file), "-o", str(output))
    resumed = await cli(*args, "--resume", APIBRICKS_BASE_URL=sandbox_url)
    assert resumed.code == 0, resumed.err
    assert sandbox_server.requests_for("sk_sandbox_twice") == 1  # duplicates fetched once
    assert len(ledger_entries(ledger)) == 2
    plain = await cli(*args, APIBRICKS_BASE_URL=sandbox_url)
    assert plain.code == 0, plain.err
    assert not ledger.exists()  # it described the file just replaced
    assert sorted(os.listdir(tmp_path)) == ["keys.txt", "run.jsonl"]


def test_a_keys_file_is_streamed_not_held(tmp_path: Path) -> None:
    """10**5 keys: checked up front, then read again as pulled; memory does not grow with them."""
    import tracemalloc

    from apibricks.cli._keys import KeyFile

    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("".join(f"sk_sandbox_many{n}\n" for n in range(100_000)))
    tracemalloc.start()
    try:
        keys = KeyFile(str(keys_file), io.StringIO())
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        count = sum(1 for _ in keys)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(keys) == count == 100_000
    assert held < 1 << 20  # under 1 MiB held for 100,000 keys (a list of them: ~25 MiB)
    assert peak < 1 << 20


# --- behind a rate limiter: the adaptive pace, and --no-adaptive ---


@pytest.fixture
async def limited_sandbox() -> AsyncIterator[sandbox.Sandbox]:
    server = sandbox.Sandbox(rate_limit=40.0)  # 429 without Retry-After beyond 40/s
    async with server.serve():
        yield server


@pytest.mark.parametrize("adaptive", [True, False])
async def test_progress_shows_the_pace_found_behind_a_limiter(
    limited_sandbox: sandbox.Sandbox, adaptive: bool
) -> None:
    keys = "".join(f"sk_sandbox_paced{n}~n1\n" for n in range(30))
    flags = () if adaptive else ("--no-adaptive",)
    result = await cli(
        "invoices", "paid", "--keys-file", "-", "--progress", "--format", "jsonl",
        "--concurrency", "10", "--max-retries", "8", *flags,
        stdin=keys, APIBRICKS_BASE_URL=limited_sandbox.url or "",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert len(decoded("jsonl", result.out)) == 30
    last = [line for line in result.err.splitlines() if "30/30" in line][-1]  # the final line
    # The 429s are counted either way; only the adaptive fan-out has a pace to show
    # (--no-adaptive: each request only retries on its own).
    assert " throttled" in last
    assert ("pace " in last) is adaptive


def test_a_key_source_never_shows_its_key() -> None:
    from apibricks.cli._keys import KeySource

    key = "sk_live_0123456789abcdef"
    source = KeySource(key, "keys.txt:3")
    assert key not in repr(source) and key not in str(source)
    assert "keys.txt:3" in repr(source) and source.key == key
