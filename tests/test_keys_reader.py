"""``--keys-file -`` and a keys file: one reader, one set of rules (issue 24 item 8)."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apibricks.cli._errors import UsageError
from apibricks.cli._keys import KeyFile

ROOT = Path(__file__).resolve().parent.parent
BOM = "\ufeff".encode()


def read(name: str, stdin: io.TextIOWrapper) -> list[str] | str:
    """The keys ``KeyFile`` yields, or its usage error's message with the source's label cut."""
    try:
        keys = KeyFile(name, stdin)
        return [source.key for source in keys]
    except UsageError as exc:
        return str(exc).replace("stdin" if name == "-" else name, "SOURCE")


def as_stdin(data: bytes) -> io.TextIOWrapper:
    """Standard input as Python opens it under a UTF-8 locale (escapes for bad bytes)."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")


def both(data: bytes, tmp_path: Path) -> tuple[list[str] | str, list[str] | str]:
    path = tmp_path / "keys.txt"
    path.write_bytes(data)
    return read(str(path), as_stdin(b"")), read("-", as_stdin(data))


lines = st.lists(
    st.one_of(
        st.text("abcdefXYZ0123456789_", min_size=1, max_size=20),
        st.sampled_from(["", "# comment", "  sk_padded  "]),
    ),
    max_size=5,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=lines,
    bom=st.booleans(),
    encoding=st.sampled_from(["utf-8", "latin-1", "cp1252"]),
    accent=st.sampled_from(["", "é", "ü", "ß"]),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_a_file_and_stdin_read_the_same(
    tmp_path: Path, body: list[str], bom: bool, encoding: str, accent: str, newline: str
) -> None:
    text = newline.join([*body, f"sk_key{accent}"])
    data = (BOM if bom else b"") + text.encode(encoding)
    from_file, from_stdin = both(data, tmp_path)
    assert from_file == from_stdin


def test_stdin_accepts_a_utf8_bom_like_a_file(tmp_path: Path) -> None:
    assert both(BOM + b"sk_one\nsk_two\n", tmp_path) == (["sk_one", "sk_two"],) * 2


def test_stdin_calls_latin1_not_utf8_like_a_file(tmp_path: Path) -> None:
    from_file, from_stdin = both("sk_caf\u00e9\n".encode("latin-1"), tmp_path)
    assert isinstance(from_stdin, str) and "not UTF-8 text" in from_stdin
    assert from_file == from_stdin


def test_a_text_stream_without_bytes_is_read_by_the_same_rules() -> None:
    """Embedding code may hand a StringIO: a BOM there is skipped too."""
    assert [s.key for s in KeyFile("-", io.StringIO("\ufeffsk_one\n"))] == ["sk_one"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (BOM + b"sk_live_bom_1\n", None),
        ("sk_caf\u00e9\n".encode("latin-1"), "not UTF-8 text"),
    ],
)
async def test_the_cli_reads_stdin_by_the_file_rules(data: bytes, expected: str | None) -> None:
    """As users run it: bytes on the command's standard input (port 9 refuses the call)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APIBRICKS_")}
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "apibricks", "invoices", "paid", "--keys-file", "-"),
        "--base-url",
        "http://127.0.0.1:9",
        "--max-retries",
        "0",
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(data), 60)
    text = err.decode()
    if expected is None:
        assert "non-printable" not in text and "usage" not in text.lower(), text
        assert proc.returncode != 2, text  # the key was read; the connection then failed
    else:
        assert expected in text and proc.returncode == 2, text
