"""The job: fetch paid invoices for every key, write them out, report what failed.

One key or ten thousand take the same path (``fan_out`` over one connection pool), so a
single organization's failure is reported exactly like one failure among many.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TextIO

from .._auth import key_hint
from ._args import Config, KeySource
from ._ledger import Journal
from ._output import Writer
from ._progress import make_display
from ._shard import fingerprint
from ._text import one_line

__all__ = ["run"]


@contextlib.asynccontextmanager
async def _base_url(config: Config) -> AsyncIterator[str]:
    """The configured URL, or an embedded sandbox's for the life of the job."""
    if config.sandbox:
        from .. import sandbox

        async with sandbox.serve() as url:
            yield url
    else:
        assert config.base_url is not None
        yield config.base_url


def describe_failure(source: KeySource, error: BaseException | None, *, fan_out: bool) -> str:
    """One stderr line: where the key came from, its hint, the error; never the key itself."""
    hint = key_hint(source.key)
    message = one_line(str(error)).replace(source.key, hint) if error is not None else ""
    kind = type(error).__name__ if error is not None else "Error"
    where = f"{source.where}: " if fan_out else ""
    return f"apibricks: error: {where}key {hint}: {kind}: {message}".rstrip(": ")


def _still_to_do(config: Config, ledger: Journal | None, err: TextIO) -> list[KeySource]:
    """Every key, or under --resume each organization not yet in the ledger, once."""
    if ledger is None:
        return config.keys
    todo: dict[str, KeySource] = {}
    for source in config.keys:
        todo.setdefault(fingerprint(source.key), source)
    skipped = sum(1 for print_ in todo if print_ in ledger.done)
    if skipped and config.progress != "never":
        print(
            f"apibricks: resuming: {skipped} of {len(todo)} organizations already in "
            f"{ledger.output.name}; fetching the other {len(todo) - skipped}",
            file=err,
            flush=True,
        )
    return [source for print_, source in todo.items() if print_ not in ledger.done]


async def run(
    config: Config,
    writer: Writer,
    err: TextIO,
    *,
    out_is_terminal: bool,
    ledger: Journal | None = None,
) -> int:
    """Fetch, write, summarise; 0 when every organization was fetched, else 1."""
    from .._async import AsyncClient  # aiohttp: only once there is work to do

    todo = _still_to_do(config, ledger, err)
    display = make_display(
        config.progress,
        err,
        len(todo),
        fan_out=config.fan_out,
        shares_terminal=out_is_terminal and config.format != "table",
    )
    failures: list[tuple[int, BaseException | None]] = []
    try:
        if todo:
            async with (
                _base_url(config) as base_url,
                AsyncClient(
                    api_key=todo[0].key,
                    base_url=base_url,
                    timeout=config.timeout,
                    max_retries=config.max_retries,
                    max_connections=config.concurrency,
                ) as client,
            ):
                outcomes = client.fan_out(
                    [source.key for source in todo],
                    lambda org: org.invoices.list_paid(),
                    concurrency=config.concurrency,
                    rate_limit=config.rate_limit,
                    on_progress=display.update,
                )
                async with contextlib.aclosing(outcomes):  # leaving early cancels the rest
                    async for outcome in outcomes:
                        if not outcome.ok:
                            failures.append((outcome.index, outcome.error))
                            continue
                        invoices = outcome.value or []
                        if out_is_terminal:
                            display.clear()
                        writer.add(outcome.index, invoices)
                        if ledger is not None:
                            ledger.finished(outcome.key, len(invoices))
    finally:
        display.close()
    writer.close()
    for index, error in sorted(failures, key=lambda failure: failure[0]):
        print(describe_failure(todo[index], error, fan_out=config.fan_out), file=err)
    if config.fan_out and failures:
        print(
            f"apibricks: {len(failures)} of {len(todo)} organizations failed; "
            "their invoices are not in the output"
            + ("; rerun with --resume to fetch only those" if ledger is not None else ""),
            file=err,
        )
    return 1 if failures else 0
