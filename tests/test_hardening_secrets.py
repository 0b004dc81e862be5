"""Secret scan: every fault kind, every facade, the CLI and fan-out, and the key is nowhere.

A distinctive key (``sk_sandbox_S3CR3T<random>``, plus each fault suffix) runs the whole fault
matrix with logging at DEBUG (root and ``apibricks``), warnings recorded, and every error
rendered the ways users and tools render it: ``str``, ``repr``, ``traceback.format_exception``
(the ``__cause__`` chain included), log records' messages *and* their raw ``args``. Then the
text is searched for the key and for any 8-character piece of its secret part (a key hint
shows 4 characters at most).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import sys
import traceback
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import apibricks
import apibricks._retry
from apibricks import sandbox

SECRET_ORG = "S3CR3T" + secrets.token_hex(10).upper()
SECRET = f"sk_sandbox_{SECRET_ORG}"
UNKNOWN_SECRET = "sk_live_S3CR3T" + secrets.token_hex(10)  # not a sandbox key: a 401

# Every fault kind the sandbox knows, transient and permanent.
FAULT_SUFFIXES = [
    "",
    "~n0",
    "~503",
    "~503x1",
    "~500x2",
    "~429r0.01",
    "~429r0.01x1",
    "~429r9999",  # beyond retry_after_cap: raised at once
    "~429date1x1",
    "~429bare",
    "~400",
    "~401",
    "~403",
    "~404",
    "~408x1",
    "~409",
    "~422",
    "~reset",
    "~truncatex1",
    "~truncate",
    "~disconnect",
    "~malformed",
    "~wrongtype",
    "~redirectx1",
    "~redirectother",
    "~slow5",
    "~latency20",
    "~nosuchfault",  # the sandbox answers 400 naming the bad item
]
BAD_KEYS = [SECRET + "\r\nX-Injected: 1", SECRET + "\n", "\t" + SECRET + "\x00"]
CLIENT_KWARGS: dict[str, Any] = {"max_retries": 1, "timeout": 0.5}


def pieces(secret: str = SECRET_ORG, size: int = 8) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def assert_no_secret(text: str, where: str) -> None:
    for secret in (SECRET, UNKNOWN_SECRET):
        assert secret not in text, f"the key appears in {where}"
    for piece in pieces() + pieces(UNKNOWN_SECRET[len("sk_live_") :]):
        assert piece not in text, f"a piece of the key ({piece!r}) appears in {where}"


def renderings(error: BaseException) -> Iterator[tuple[str, str]]:
    yield "str(error)", str(error)
    yield "repr(error)", repr(error)
    yield "format_exception", "".join(traceback.format_exception(error))
    for name in ("headers", "body", "request_id", "path", "message", "retry_after"):
        if hasattr(error, name):
            yield f"error.{name}", repr(getattr(error, name))
    cause = error.__cause__ or error.__context__
    if cause is not None:
        yield "repr(cause)", repr(cause)
        yield "cause.args", repr(cause.args)


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apibricks._retry, "BACKOFF_BASE", 0.001)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("apibricks", "aiohttp", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def scan_logs(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records, "DEBUG logging was on and recorded nothing"
    assert_no_secret(caplog.text, "the formatted log")
    for record in caplog.records:
        where = f"log record {record.name}:{record.lineno}"
        assert_no_secret(record.getMessage(), where)
        assert_no_secret(repr(record.args), where + " args")
        if record.exc_info and record.exc_info[1] is not None:
            assert_no_secret("".join(traceback.format_exception(record.exc_info[1])), where)


@contextlib.contextmanager
def recorded_warnings() -> Iterator[list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    for warning in caught:
        assert_no_secret(str(warning.message), "a warning")


async def test_the_fault_matrix_never_shows_the_key(
    facade: Any, debug_logs: pytest.LogCaptureFixture
) -> None:
    seen_errors: set[str] = set()
    with recorded_warnings():
        for key in [SECRET + suffix for suffix in FAULT_SUFFIXES] + [UNKNOWN_SECRET]:
            try:
                result = await facade(
                    lambda c: c.invoices.list_paid(), api_key=key, **CLIENT_KWARGS
                )
            except apibricks.APIBricksError as error:
                seen_errors.add(type(error).__name__)
                for where, text in renderings(error):
                    assert_no_secret(text, f"{where} for {key[len(SECRET) :]!r}")
            else:
                assert isinstance(result, list)
                assert_no_secret(repr(result), "the decoded invoices")
        for key in BAD_KEYS:
            with pytest.raises(apibricks.APIKeyError) as refused:
                await facade(lambda c: c.invoices.list_paid(), api_key=key)
            for where, text in renderings(refused.value):
                assert_no_secret(text, f"{where} for a refused key")
    scan_logs(debug_logs)
    # The matrix really hit every branch of the error tree.
    assert {
        "InternalServerError",
        "RateLimitError",
        "BadRequestError",
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "ConflictError",
        "UnprocessableEntityError",
        "APIConnectionError",
        "APITimeoutError",
        "DecodeError",
        "RedirectError",  # the APIStatusError for a 3xx it will not follow
    } <= seen_errors


async def test_reprs_of_clients_views_and_outcomes(
    sandbox_url: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    keys = [SECRET + suffix for suffix in FAULT_SUFFIXES] + [UNKNOWN_SECRET, *BAD_KEYS]
    with recorded_warnings():
        async with apibricks.AsyncClient(
            api_key=SECRET, base_url=sandbox_url, **CLIENT_KWARGS
        ) as client:
            assert_no_secret(repr(client), "repr(AsyncClient)")
            assert_no_secret(repr(client.with_api_key(SECRET + "~503")), "repr(view)")
            outcomes = [
                outcome
                async for outcome in client.fan_out(keys, lambda org: org.invoices.list_paid())
            ]
            report = await client.paid_invoices_by_organization(keys)
        assert sorted(outcome.index for outcome in outcomes) == list(range(len(keys)))
        for outcome in outcomes:
            assert_no_secret(repr(outcome), "repr(Outcome)")
            assert_no_secret(str(outcome), "str(Outcome)")
            if outcome.error is not None:
                for where, text in renderings(outcome.error):
                    assert_no_secret(text, f"outcome {where}")
        assert_no_secret(repr(report), "repr(PaidInvoicesReport)")
        for entry in report:
            assert_no_secret(repr(entry), "repr(OrganizationInvoices)")

        def sync_side() -> None:
            with apibricks.Client(api_key=SECRET, base_url=sandbox_url, **CLIENT_KWARGS) as c:
                assert_no_secret(repr(c), "repr(Client)")
                assert_no_secret(repr(c.with_api_key(SECRET)), "repr(sync view)")
                for outcome in c.fan_out(keys, lambda org: org.invoices.list_paid()):
                    assert_no_secret(repr(outcome), "repr(sync Outcome)")
                    if outcome.error is not None:
                        for where, text in renderings(outcome.error):
                            assert_no_secret(text, f"sync outcome {where}")

        await asyncio.to_thread(sync_side)
    scan_logs(debug_logs)


CLI_SUFFIXES = [
    "",
    "~503",
    "~reset",
    "~malformed",
    "~wrongtype",
    "~404",
    "~slow5",
    "~redirectother",
]


@pytest.fixture(scope="module")
def threaded_sandbox() -> Iterator[str]:
    with sandbox.serve_in_thread() as url:
        yield url


async def _run_cli(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-X",
        "dev",
        "-m",
        "apibricks",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "always", **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), 60)
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


async def test_the_cli_never_prints_the_key(threaded_sandbox: str) -> None:
    common = ["invoices", "paid", "--base-url", threaded_sandbox, "--format", "json"]
    common += ["--timeout", "0.5", "--max-retries", "1"]
    runs: list[tuple[str, int, Any]] = []
    for suffix in CLI_SUFFIXES:
        status = 0 if suffix == "" else 1
        runs.append(
            (f"--api-key ...{suffix}", status, _run_cli(*common, "--api-key", SECRET + suffix))
        )
        env = {"APIBRICKS_API_KEY": SECRET + suffix}
        runs.append((f"$APIBRICKS_API_KEY ...{suffix}", status, _run_cli(*common, env=env)))
    keys = [SECRET + suffix for suffix in CLI_SUFFIXES] + [UNKNOWN_SECRET]
    keys_file = _run_cli(*common, "--keys-file", "-", stdin="\n".join(keys).encode())
    runs.append(("--keys-file", 1, keys_file))
    for bad in BAD_KEYS:
        if "\x00" not in bad:  # argv cannot hold a NUL; a keys file can
            runs.append(("a refused --api-key", 2, _run_cli(*common, "--api-key", bad)))
        if "\n" not in bad:  # a line break just splits the file into two keys
            line = (SECRET + "\n" + bad).encode()
            runs.append(
                ("a refused keys-file line", 2, _run_cli(*common, "--keys-file", "-", stdin=line))
            )
    limit = asyncio.Semaphore(4)

    async def bounded(run: Any) -> tuple[int, str]:
        async with limit:
            try:
                return await run  # type: ignore[no-any-return]
            except Exception as exc:  # never leave the other runs orphaned
                return -1, repr(exc)

    results = await asyncio.gather(*(bounded(run) for _, _, run in runs))
    for (where, expected_status, _), (status, output) in zip(runs, results, strict=True):
        assert status == expected_status, (where, output)
        assert_no_secret(output, f"CLI output with {where}")
    keys_file_output = results[[where for where, _, _ in runs].index("--keys-file")][1]
    assert "InternalServerError" in keys_file_output  # failures were reported, by hint only


def test_the_scan_itself_finds_a_leak() -> None:
    """Guard the guard: a piece of the key, or the key in a repr, is caught."""
    for leaked in (SECRET, f"key={SECRET_ORG[5:14]}...", repr({"Authorization": UNKNOWN_SECRET})):
        with pytest.raises(AssertionError):
            assert_no_secret(leaked, "a test string")
    assert_no_secret(f"key …{SECRET_ORG[-4:]}", "a key hint")  # 4 characters are a hint
