"""Visible retries: one INFO line per retry; ``APIBRICKS_LOG`` and `configure` switch it on."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from apibricks import _logging
from apibricks._auth import key_hint

Facade = Callable[..., Awaitable[Any]]
LIST_PAID = lambda client: client.invoices.list_paid()  # noqa: E731


@pytest.fixture
def restore_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("apibricks")
    handlers, level = list(logger.handlers), logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def _info_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "apibricks" and r.levelno == logging.INFO
    ]


async def test_each_retry_is_one_info_line(
    facade: Facade, caplog: pytest.LogCaptureFixture
) -> None:
    key = "sk_sandbox_logged_retries~503r0x2"
    caplog.set_level(logging.INFO, logger="apibricks")
    await facade(LIST_PAID, api_key=key)
    lines = _info_lines(caplog)
    assert len(lines) == 2
    for attempt, line in enumerate(lines, start=1):
        assert f"attempt {attempt} of 3 failed with 503" in line
        assert line.startswith("retrying in ") and " s: GET http://127.0.0.1:" in line
        assert "request id 00-" in line  # the sandbox's traceparent-style id
        assert f"key {key_hint(key)}" in line
        assert key not in line
    assert all(key not in message for message in caplog.messages)


async def test_a_timeout_retry_names_the_error_type(
    facade: Facade, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="apibricks")
    await facade(LIST_PAID, api_key="sk_sandbox_logged_slow~slow2x1", timeout=0.2)
    (line,) = _info_lines(caplog)
    assert "attempt 1 of 3 failed with APITimeoutError (request id -" in line


async def test_no_retry_no_info_line(facade: Facade, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="apibricks")
    await facade(LIST_PAID, api_key="sk_sandbox_logged_quiet")
    assert _info_lines(caplog) == []


def test_configure_sets_the_level_with_one_handler(restore_logger: logging.Logger) -> None:
    _logging.configure("debug")
    _logging.configure("INFO")
    assert sum(type(h).__name__ == "_OurHandler" for h in restore_logger.handlers) == 1
    assert restore_logger.level == logging.INFO
    _logging.configure(logging.DEBUG)
    assert restore_logger.level == logging.DEBUG
    with pytest.raises(ValueError, match="Unknown apibricks log level 'loud'"):
        _logging.configure("loud")


def test_configure_from_env_ignores_unknown_values(
    restore_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APIBRICKS_LOG", "verbose-please")
    before = list(restore_logger.handlers)
    _logging.configure_from_env()
    assert restore_logger.handlers == before


@pytest.mark.parametrize(
    ("value", "retry_lines", "attempt_lines"),
    [("info", 1, 0), ("debug", 1, 2), ("DEBUG", 1, 2), ("", 0, 0)],
)
async def test_apibricks_log_configures_from_the_environment(
    sandbox_url: str, value: str, retry_lines: int, attempt_lines: int
) -> None:
    key = "sk_sandbox_env_logged~503r0x1"
    script = (
        "import sys, apibricks\n"
        "with apibricks.Client(api_key=sys.argv[1], base_url=sys.argv[2]) as client:\n"
        "    client.invoices.list_paid()\n"
    )
    env = {**os.environ, "APIBRICKS_LOG": value}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        key,
        sandbox_url,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    lines = err.decode().splitlines()
    assert sum("INFO apibricks] retrying in" in line for line in lines) == retry_lines
    assert sum("DEBUG apibricks] GET " in line for line in lines) == attempt_lines
    assert key not in err.decode()
