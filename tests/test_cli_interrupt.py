"""A run that ends early: Ctrl-C and SIGTERM keep what was fetched and say how to resume;
a closed pipe (``| head``) ends the run quietly with 141.

Every run is a real subprocess against a sandbox on loopback, signalled for real. The
moment is observable, never guessed: with ``--concurrency 1`` the fan-out asks for the
next key only after the previous organization was written, so when the sandbox sees the
request of the key that hangs, every organization before it has been handed to the output.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shlex
import signal
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_cli import ROOT, clean_env, cli, decoded
from test_cli_runs import until

import apibricks
from apibricks import sandbox
from apibricks.cli._interrupt import resume_command

STUCK = "~slow3600x1"  # the first attempt hangs for an hour; a resumed run's answers at once


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def ledgered(ledger: Path) -> set[str]:
    """Every key fingerprint the ledger commits (jsonl: ``key``; parquet parts: ``keys``)."""
    done: set[str] = set()
    for line in ledger.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        done.update([entry["key"]] if "key" in entry else entry.get("keys", []))
    return done


def saved(output: Path) -> list[tuple[str, str | None]]:
    """(organization, invoice id) of every invoice in a jsonl file or a parquet directory."""
    if output.suffix == ".parquet":
        parquet = pytest.importorskip("pyarrow.parquet")
        if not any(output.iterdir()):
            return []
        rows = parquet.read_table(output, columns=["id_organization", "id"]).to_pylist()
        return [(str(row["id_organization"]), row["id"]) for row in rows]
    invoices = decoded("jsonl", output.read_text(encoding="utf-8"))
    return [(str(i.id_organization), i.id) for i in invoices]


def expected(keys: list[str]) -> list[tuple[str, str | None]]:
    invoices = [
        i for key in keys for i in apibricks.decode_invoices(sandbox.make_invoices_payload(key))
    ]
    return [(str(i.id_organization), i.id) for i in invoices]


async def start(args: list[str], url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "apibricks", *args),
        cwd=ROOT,
        env=clean_env(APIBRICKS_BASE_URL=url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


# --- --resume: everything fetched is committed, and the line says how to go on ---


@pytest.mark.parametrize("before", [0, 1, 4])  # organizations finished when the signal comes
@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
async def test_an_interrupted_resume_keeps_every_finished_organization(
    sandbox_server: sandbox.Sandbox,
    sandbox_url: str,
    tmp_path: Path,
    before: int,
    signum: int,
    code: int,
    word: str,
    suffix: str,
) -> None:
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    done = [f"sk_sandbox_int{n}~n{n % 3 + 1}" for n in range(before)]
    stuck, rest = f"sk_sandbox_stuck{STUCK}", ["sk_sandbox_after1~n2", "sk_sandbox_after2"]
    keys = [*done, stuck, *rest]
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(keys) + "\n", encoding="utf-8")
    output = tmp_path / f"run{suffix}"
    ledger = tmp_path / f"run{suffix}.ledger"
    args = [
        *("invoices", "paid", "--keys-file", str(keys_file), "-o", str(output)),
        *("--concurrency", "1", "--resume"),
    ]
    proc = await start(args, sandbox_url)
    await until(lambda: sandbox_server.requests_for(stuck) > 0)  # the others are written
    proc.send_signal(signum)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == code, err
    command = shlex.join(["apibricks", *args])
    organizations = "organization" if before == 1 else "organizations"
    assert err.decode() == (
        f"apibricks: error: {word}; {before} {organizations} saved in {output}, "
        f"resume with: {command}\n"
    )
    assert ledgered(ledger) == {fingerprint(key) for key in done}  # all of them, committed
    assert sorted(saved(output)) == sorted(expected(done))

    # the exact command printed resumes it, asking only for what is missing
    resumed = await cli(*shlex.split(command)[1:], APIBRICKS_BASE_URL=sandbox_url)
    assert resumed.code == 0, resumed.err
    assert [sandbox_server.requests_for(key) for key in keys] == [1] * before + [2, 1, 1]
    assert sorted(saved(output)) == sorted(expected(keys))  # every invoice exactly once


async def test_an_interrupted_run_never_prints_the_key(
    sandbox_server: sandbox.Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    key = f"sk_sandbox_secret_0123456789{STUCK}"
    output = tmp_path / "run.jsonl"
    args = ["invoices", "paid", "--api-key", key, "-o", str(output), "--resume"]
    proc = await start(args, sandbox_url)
    await until(lambda: sandbox_server.requests_for(key) > 0)
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 130
    assert key not in err.decode() and "secret_0123" not in err.decode()
    command = shlex.join(["apibricks", "invoices", "paid", "-o", str(output), "--resume"])
    assert err.decode().endswith(f"resume with: {command} (with the key in $APIBRICKS_API_KEY)\n")


# --- runs that cannot be resumed say so ---


async def test_interrupted_stdout_run_says_it_cannot_be_resumed(
    sandbox_server: sandbox.Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text(f"sk_sandbox_first\nsk_sandbox_late{STUCK}\n", encoding="utf-8")
    args = ["invoices", "paid", "--keys-file", str(keys_file), "--format", "json"]
    args += ["--concurrency", "1"]
    proc = await start(args, sandbox_url)
    await until(lambda: sandbox_server.requests_for(f"sk_sandbox_late{STUCK}") > 0)
    proc.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 143
    assert err.decode() == (
        "apibricks: error: terminated; nothing saved: output to stdout cannot be resumed (no -o)\n"
    )
    assert out.startswith(b"[\n") and not out.rstrip().endswith(b"]")  # never looks complete


async def test_interrupted_plain_file_run_says_it_cannot_be_resumed(
    sandbox_server: sandbox.Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    key = f"sk_sandbox_plain{STUCK}"
    output = tmp_path / "paid.jsonl"
    output.write_text("yesterday\n", encoding="utf-8")
    proc = await start(["invoices", "paid", "--api-key", key, "-o", str(output)], sandbox_url)
    await until(lambda: sandbox_server.requests_for(key) > 0)
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 130
    assert err.decode() == (
        f"apibricks: error: interrupted; {output} left as it was: a run without --resume "
        "cannot be resumed (-o FILE.jsonl --resume keeps what each run fetched)\n"
    )
    assert output.read_text(encoding="utf-8") == "yesterday\n"


# --- pipelines: the reader leaves, the run ends quietly with 141, at once ---


@pytest.mark.parametrize("format", ["jsonl", "json", "csv", "table"])
@pytest.mark.parametrize("read", [0, 1])  # lines read before the reader leaves
async def test_a_closed_pipe_ends_the_run_quietly_with_141(
    sandbox_server: sandbox.Sandbox, sandbox_url: str, tmp_path: Path, format: str, read: int
) -> None:
    keys = ["sk_sandbox_head~n2", *(f"sk_sandbox_hang{n}{STUCK}" for n in range(5))]
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(keys) + "\n", encoding="utf-8")
    reader, writer = os.pipe()  # stdout is a pipe whose read end this test holds, as `head`
    try:
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "apibricks", "invoices", "paid"),
            *("--keys-file", str(keys_file), "--format", format),
            cwd=ROOT,
            env=clean_env(APIBRICKS_BASE_URL=sandbox_url),
            stdout=writer,
            stderr=asyncio.subprocess.PIPE,
        )
    finally:
        os.close(writer)
    with open(reader, "rb", buffering=0) as lines:  # noqa: ASYNC230 - a pipe: opening never blocks
        await until(lambda: all(sandbox_server.requests_for(key) for key in keys))
        if format != "table":  # the table is printed at the end: there is nothing to read
            for _ in range(read):
                loop = asyncio.get_running_loop()
                assert await loop.run_in_executor(None, lines.readline)
    # `head` has exited: the read end is closed while five requests hang for an hour
    _, err = await asyncio.wait_for(proc.communicate(), 60)  # at once, not in an hour
    assert proc.returncode == 141
    assert err == b""  # no traceback, no error line


async def test_a_pipe_closed_before_the_first_write_is_noticed(
    sandbox_server: sandbox.Sandbox, sandbox_url: str
) -> None:
    """`apibricks ... | head -1` behind a shell: a real pipeline, its status from PIPESTATUS."""
    key = f"sk_sandbox_shell{STUCK}"
    script = (
        f"{shlex.quote(sys.executable)} -m apibricks invoices paid --format jsonl | true; "
        'echo "${PIPESTATUS[0]}"'
    )
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        cwd=ROOT,
        env=clean_env(APIBRICKS_BASE_URL=sandbox_url, APIBRICKS_API_KEY=key),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert (out, err) == (b"141\n", b"")


# --- the resume command: the user's own words, never a key ---

WORDS = st.sampled_from(
    ["invoices", "paid", "--keys-file", "k.txt", "-o", "run out.jsonl", "--resume", "-q", "x"]
)
SECRET = "sk_live_Secret0123456789"
KEY_FORMS = st.sampled_from(
    [["--api-key", SECRET], [f"--api-key={SECRET}"], ["--api-k", SECRET], [f"--api={SECRET}"]]
)


@given(before=st.lists(WORDS, max_size=6), key=st.lists(KEY_FORMS, max_size=2))
def test_the_resume_command_drops_the_key_and_keeps_the_rest(
    before: list[str], key: list[list[str]]
) -> None:
    argv = [*before, *(word for form in key for word in form)]
    command, dropped = resume_command(argv)
    assert SECRET not in command and dropped is bool(key)
    words = shlex.split(command)
    assert words[0] == "apibricks" and words.count("--resume") == max(1, before.count("--resume"))
    assert [w for w in words[1:] if w != "--resume"] == [w for w in before if w != "--resume"]
