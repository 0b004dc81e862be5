"""The job: fetch paid invoices for every key, write them out, report what failed.

One key or ten thousand take the same path (``fan_out`` over one connection pool), so a
single organization's failure is reported exactly like one failure among many.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TextIO

from .._auth import key_hint
from ._args import Config, KeySource
from ._fetched import fetch_paid
from ._ledger import Journal
from ._once import WrittenOnce
from ._output import Writer
from ._plan import Plan, make_plan
from ._progress import make_display
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


def _announce(config: Config, plan: Plan, ledger: Journal | None, err: TextIO) -> None:
    """Before fetching: lines repeated in the keys file, and what a resumed ledger holds."""
    label = getattr(config.keys, "label", "keys")
    note = plan.duplicates_note(label)
    if note is not None:
        print(note, file=err, flush=True)
    resumed = plan.distinct - plan.todo
    if ledger is not None and resumed and config.progress != "never":
        print(
            f"apibricks: resuming: {resumed} of {plan.distinct} organizations already in "
            f"{ledger.output.name}; fetching the other {plan.todo}",
            file=err,
            flush=True,
        )


async def run(
    config: Config,
    writer: Writer,
    err: TextIO,
    *,
    out_is_terminal: bool,
    ledger: Journal | None = None,
) -> int:
    """Fetch, write, summarise; 0 when every organization was fetched, else 1."""
    import attrs

    from .._async import AsyncClient  # aiohttp: only once there is work to do

    plan = make_plan(config.keys, None if ledger is None else ledger.done)
    _announce(config, plan, ledger, err)
    count = plan.todo
    once = WrittenOnce(() if ledger is None else ledger.organizations)
    repeated: list[tuple[int, str]] = []  # keys that reached an organization already written
    display = make_display(
        config.progress,
        err,
        count,
        fan_out=config.fan_out,
        shares_terminal=out_is_terminal and config.format != "table",
    )
    in_flight: dict[int, KeySource] = {}  # where each key came from, until its outcome
    failures: list[tuple[int, str]] = []

    def keys() -> Iterator[str]:
        for index, source in enumerate(plan.keys):
            in_flight[index] = source
            yield source.key

    try:
        if count:
            async with (
                _base_url(config) as base_url,
                AsyncClient.from_settings(
                    attrs.evolve(
                        config.settings, base_url=base_url, max_connections=config.concurrency
                    ),
                    api_key=next(iter(config.keys)).key,  # a default only: each key has a view
                ) as client,
            ):
                outcomes = client.fan_out(
                    keys(),
                    fetch_paid,
                    concurrency=config.concurrency,
                    rate_limit=config.rate_limit,
                    adaptive=config.adaptive,
                    on_progress=display.update,
                )
                async with contextlib.aclosing(outcomes):  # leaving early cancels the rest
                    async for outcome in outcomes:
                        source = in_flight.pop(outcome.index)
                        if not outcome.ok:
                            line = describe_failure(source, outcome.error, fan_out=config.fan_out)
                            failures.append((outcome.index, line))
                            continue
                        assert outcome.value is not None
                        with contextlib.closing(outcome.value) as fetched:
                            written, organization, again = 0, None, False
                            if out_is_terminal:
                                display.clear()
                            for batch in fetched.batches():
                                invoices, seen = once.fresh(batch)
                                if organization is None:  # a key's first batch tells
                                    organization, again = str(batch[0].id_organization), seen
                                writer.add(outcome.index, invoices)
                                written += len(invoices)
                        if again:
                            repeated.append((outcome.index, source.where))
                        if ledger is not None:
                            ledger.finished(outcome.key, written, organization)
    except asyncio.CancelledError:  # Ctrl-C, SIGTERM, or the reader of stdout left
        if ledger is not None:
            writer.close()  # commit what was fetched (a pending part): a rerun skips it
        raise  # any other output stays unfinished: it must not look complete
    finally:
        display.close()
    writer.close()
    for _, line in sorted(failures):
        print(line, file=err)
    if repeated:
        print(_repeated_note(sorted(repeated)), file=err)
    if config.fan_out and failures:
        print(
            f"apibricks: {len(failures)} of {count} organizations failed; "
            "their invoices are not in the output"
            + ("; rerun with --resume to fetch only those" if ledger is not None else ""),
            file=err,
        )
    return 1 if failures else 0


def _repeated_note(repeated: list[tuple[int, str]]) -> str:
    """Keys of an organization another key already wrote: its invoices are written once."""
    shown = ", ".join(where for _, where in repeated[:10])
    more = f", … {len(repeated) - 10:,} more" if len(repeated) > 10 else ""
    keys = "key" if len(repeated) == 1 else "keys"
    return (
        f"apibricks: note: {len(repeated):,} {keys} ({shown}{more}) reached an organization "
        "another key already reached: each invoice is written once"
    )
