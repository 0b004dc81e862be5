"""The job: fetch paid invoices for every key, write them out, report what failed.

One key or ten thousand take the same path (``fan_out`` over one connection pool), so a
single organization's failure is reported exactly like one failure among many.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import TextIO

from .._async import AsyncClient
from .._auth import key_hint
from ._args import Config, KeySource
from ._output import invoice_record, make_writer, one_line

__all__ = ["run"]

_REDRAW_EVERY = 0.1  # seconds; thousands of keys must not flood the terminal


class ProgressLine:
    """``done/total, failures`` on one stderr line redrawn with CR; silent off a terminal."""

    def __init__(self, stream: TextIO, total: int, *, enabled: bool) -> None:
        self.stream = stream
        self.total = total
        self.enabled = enabled
        self.done = self.failed = 0
        self._drawn = 0.0  # time of the last draw; 0: nothing on screen

    def advance(self, *, ok: bool) -> None:
        self.done += 1
        self.failed += not ok
        if self.enabled and time.monotonic() - self._drawn >= _REDRAW_EVERY:
            self.draw()

    def draw(self) -> None:
        failed = f", {self.failed} failed" if self.failed else ""
        self.stream.write(f"\r\x1b[Korganizations: {self.done}/{self.total}{failed}")
        self.stream.flush()
        self._drawn = time.monotonic()

    def clear(self) -> None:
        """Wipe the line, so records written to the same terminal start on a clean line."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = 0.0

    def finish(self) -> None:
        if self.enabled:
            self.draw()
            self.stream.write("\n")
            self.stream.flush()


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


async def run(config: Config, out: TextIO, err: TextIO, *, out_is_terminal: bool) -> int:
    """Fetch, write, summarise; 0 when every organization was fetched, else 1."""
    writer = make_writer(config.format, out)
    progress = ProgressLine(err, len(config.keys), enabled=config.fan_out and err.isatty())
    failures: list[tuple[int, BaseException | None]] = []
    async with (
        _base_url(config) as base_url,
        AsyncClient(
            api_key=config.keys[0].key,
            base_url=base_url,
            timeout=config.timeout,
            max_retries=config.max_retries,
            max_connections=config.concurrency,
        ) as client,
    ):
        outcomes = client.fan_out(
            [source.key for source in config.keys],
            lambda org: org.invoices.list_paid(),
            concurrency=config.concurrency,
        )
        async with contextlib.aclosing(outcomes):  # leaving early cancels what is in flight
            async for outcome in outcomes:
                if outcome.ok:
                    records = [invoice_record(invoice) for invoice in outcome.value or ()]
                    if out_is_terminal:
                        progress.clear()
                    writer.add(outcome.index, records)
                else:
                    failures.append((outcome.index, outcome.error))
                progress.advance(ok=outcome.ok)
    progress.finish()
    writer.close()
    for index, error in sorted(failures, key=lambda failure: failure[0]):
        print(describe_failure(config.keys[index], error, fan_out=config.fan_out), file=err)
    if config.fan_out and failures:
        print(
            f"apibricks: {len(failures)} of {len(config.keys)} organizations failed; "
            "their invoices are not in the output",
            file=err,
        )
    return 1 if failures else 0
