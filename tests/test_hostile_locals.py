"""Crash reporters record every frame's locals: no frame of apibricks may hold the key.

Two views of "holds": what ``traceback.TracebackException(capture_locals=True)`` prints
(``repr`` of each local), and what a reporter such as Sentry serializes, which takes a
``str`` (subclasses included) and the strings inside dicts, lists and tuples by value.
Every frame whose file is under ``apibricks/`` is checked, the ``__cause__`` and
``__context__`` chains included.
"""

from __future__ import annotations

import asyncio
import secrets
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

import apibricks
from apibricks import _retry, sandbox

PACKAGE = str(Path(apibricks.__file__).parent)
SECRET = "sk_sandbox_L0CALS" + secrets.token_hex(8)
UNKNOWN = "sk_live_L0CALS" + secrets.token_hex(8)  # not a sandbox key: a 401
FAULTS = {
    "401": UNKNOWN,
    "500 after retries": SECRET + "~500",
    "timeout": SECRET + "~slow5",
    "reset": SECRET + "~reset",
    "decode": SECRET + "~malformed",
    "refused key": SECRET + "\r\nX-Injected: 1",
}
KWARGS: dict[str, Any] = {"max_retries": 1, "timeout": 0.3}


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "BACKOFF_BASE", 0.001)


def secret_parts(key: str) -> list[str]:
    bare = key.split("~")[0].split("\r")[0]
    return [bare, bare[-12:]]


def holds(value: Any, needles: list[str], depth: int = 0) -> bool:
    """Whether ``value`` serializes (by value, as Sentry does) to text containing a needle."""
    if depth > 4:
        return False
    if isinstance(value, (str, bytes)):
        text = value if isinstance(value, str) else value.decode("latin-1")
        return any(needle in text for needle in needles)
    if isinstance(value, Mapping):
        return any(
            holds(k, needles, depth + 1) or holds(v, needles, depth + 1) for k, v in value.items()
        )
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(holds(item, needles, depth + 1) for item in value)
    return False


def chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


def our_frames(tb: TracebackType | None) -> Iterator[Any]:
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(PACKAGE):
            yield tb.tb_frame
        tb = tb.tb_next


def assert_no_key_in_locals(error: BaseException, key: str, where: str) -> None:
    needles = secret_parts(key)
    checked = 0
    for link in chain(error):
        formatted = traceback.TracebackException(
            type(link), link, link.__traceback__, capture_locals=True
        )
        for summary in formatted.stack:
            if summary.filename.startswith(PACKAGE):
                checked += 1
                for name, text in (summary.locals or {}).items():
                    assert not holds(text, needles), f"{where}: {summary.name}() local {name}"
        for frame in our_frames(link.__traceback__):
            for name, value in frame.f_locals.items():
                assert not holds(value, needles), (
                    f"{where}: {frame.f_code.co_name}() local {name!r} holds the key by value"
                )
    assert checked, f"{where}: no apibricks frame in the traceback"


async def test_list_paid_errors_hold_no_key(sandbox_server: sandbox.Sandbox) -> None:
    for fault, key in FAULTS.items():
        try:
            async with apibricks.AsyncClient(
                api_key=key, base_url=sandbox_server.url, **KWARGS
            ) as client:
                await client.invoices.list_paid()
        except apibricks.APIBricksError as error:
            assert_no_key_in_locals(error, key, f"async {fault}")
        else:
            pytest.fail(f"{fault} did not fail")


async def test_view_errors_hold_no_key(sandbox_server: sandbox.Sandbox) -> None:
    async with apibricks.AsyncClient(base_url=sandbox_server.url, **KWARGS) as client:
        for fault, key in FAULTS.items():
            try:
                await client.with_api_key(key).invoices.list_paid()
            except apibricks.APIBricksError as error:
                assert_no_key_in_locals(error, key, f"view {fault}")
            else:
                pytest.fail(f"{fault} did not fail")


async def test_sync_errors_hold_no_key(sandbox_server: sandbox.Sandbox) -> None:
    def run() -> None:
        with apibricks.Client(base_url=sandbox_server.url, **KWARGS) as client:
            for fault, key in FAULTS.items():
                try:
                    client.with_api_key(key).invoices.list_paid()
                except apibricks.APIBricksError as error:
                    assert_no_key_in_locals(error, key, f"sync {fault}")
                else:
                    pytest.fail(f"{fault} did not fail")

    await asyncio.to_thread(run)


async def test_fan_out_errors_hold_no_key(sandbox_server: sandbox.Sandbox) -> None:
    keys = list(FAULTS.values())
    async with apibricks.AsyncClient(base_url=sandbox_server.url, **KWARGS) as client:
        outcomes = [o async for o in client.fan_out(keys, lambda org: org.invoices.list_paid())]
    assert len(outcomes) == len(keys)
    for outcome in outcomes:
        assert outcome.error is not None
        assert outcome.key == keys[outcome.index], "the outcome keeps the key as given"
        assert_no_key_in_locals(outcome.error, outcome.key, f"fan_out #{outcome.index}")


async def test_sync_fan_out_errors_hold_no_key(sandbox_server: sandbox.Sandbox) -> None:
    keys = list(FAULTS.values())

    def run() -> list[apibricks.Outcome[Any]]:
        with apibricks.Client(base_url=sandbox_server.url, **KWARGS) as client:
            return list(client.fan_out(keys, lambda org: org.invoices.list_paid()))

    outcomes = await asyncio.to_thread(run)
    assert len(outcomes) == len(keys)
    for outcome in outcomes:
        assert outcome.error is not None
        assert_no_key_in_locals(outcome.error, outcome.key, f"sync fan_out #{outcome.index}")


async def test_a_broken_key_iterable_holds_no_key(sandbox_server: sandbox.Sandbox) -> None:
    def keys() -> Iterator[str]:
        yield SECRET
        raise apibricks.APIBricksError("the key store went away")

    async with apibricks.AsyncClient(base_url=sandbox_server.url, **KWARGS) as client:
        with pytest.raises(apibricks.APIBricksError, match="key store") as caught:
            async for _ in client.fan_out(keys(), lambda org: org.invoices.list_paid()):
                pass
    assert_no_key_in_locals(caught.value, SECRET, "fan_out input error")


def test_constructor_errors_hold_no_key() -> None:
    for bad in ({"base_url": "ftp://example.com"}, {"max_response_bytes": -1}):
        with pytest.raises(apibricks.ConfigurationError) as caught:
            apibricks.AsyncClient(api_key=SECRET, **bad)
        assert_no_key_in_locals(caught.value, SECRET, f"AsyncClient({bad})")


async def test_argument_errors_hold_no_key(sandbox_server: sandbox.Sandbox) -> None:
    async with apibricks.AsyncClient(base_url=sandbox_server.url, max_connections=4) as client:
        calls: list[tuple[Any, dict[str, Any]]] = [
            (SECRET, {}),  # a single key where an iterable was meant
            ([SECRET], {"concurrency": 10}),  # beyond the pool
            ([SECRET], {"concurrency": 0}),
        ]
        for keys, kwargs in calls:
            with pytest.raises((TypeError, ValueError)) as caught:
                async for _ in client.fan_out(keys, lambda org: org.invoices.list_paid(), **kwargs):
                    pass
            assert_no_key_in_locals(caught.value, SECRET, f"fan_out({kwargs})")
