"""The fan-out contenders, one function each: ``run(url, keys, concurrency)``.

Shared by ``bench_fan_out.py`` (timed) and ``bench_instructions.py`` (counted), so both
measure exactly the same code.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

import apibricks

PATH = "/invoices/paid"
Runner = Callable[[str, list[str], int], Awaitable[None]]


async def run_aiohttp(url: str, keys: list[str], concurrency: int) -> None:
    semaphore = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(key: str) -> Any:
            async with semaphore, session.get(url + PATH, headers={"Authorization": key}) as r:
                r.raise_for_status()
                return json.loads(await r.read())

        await asyncio.gather(*(one(key) for key in keys))


async def run_httpx(url: str, keys: list[str], concurrency: int) -> None:
    import httpx

    semaphore = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:

        async def one(key: str) -> Any:
            async with semaphore:
                response = await client.get(PATH, headers={"Authorization": key})
                response.raise_for_status()
                return json.loads(response.content)

        await asyncio.gather(*(one(key) for key in keys))


async def _raw(org: apibricks.AsyncClient) -> Any:
    return json.loads((await org._get(PATH)).body)


async def _fan_out(
    url: str, keys: list[str], concurrency: int, operation: Any, package: Any = apibricks
) -> None:
    async with package.AsyncClient(base_url=url, max_connections=concurrency) as client:
        async for outcome in client.fan_out(keys, operation, concurrency=concurrency):
            outcome.unwrap()


async def run_fan_out_raw(url: str, keys: list[str], concurrency: int) -> None:
    await _fan_out(url, keys, concurrency, _raw)


async def run_fan_out(url: str, keys: list[str], concurrency: int) -> None:
    await _fan_out(url, keys, concurrency, lambda org: org.invoices.list_paid())


def package_at(ref: str) -> Any:
    """apibricks as it is at git ``ref``, imported beside this one as ``apibricks_<ref>``
    (the package imports itself relatively), so one run can time both."""
    name = "apibricks_" + "".join(c if c.isalnum() else "_" for c in ref)
    where = Path(tempfile.mkdtemp(prefix="apibricks-before-"))
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "apibricks"],
        cwd=Path(__file__).resolve().parent.parent,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(where, filter="data")
    (where / "apibricks").rename(where / name)
    sys.path.insert(0, str(where))
    return importlib.import_module(name)


def runners_at(ref: str) -> dict[str, Runner]:
    """``fan_out raw`` and ``fan_out list_paid`` of apibricks at ``ref``."""
    package = package_at(ref)

    async def raw(url: str, keys: list[str], concurrency: int) -> None:
        await _fan_out(url, keys, concurrency, _raw, package)

    async def paid(url: str, keys: list[str], concurrency: int) -> None:
        await _fan_out(url, keys, concurrency, lambda org: org.invoices.list_paid(), package)

    return {f"fan_out raw ({ref})": raw, f"fan_out list_paid ({ref})": paid}
