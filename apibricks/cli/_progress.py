"""Progress on stderr: a rich bar on a terminal, a plain line every few seconds in logs.

Which display, decided once per run (`make_display`):

* ``--quiet``: none.
* stderr is a terminal: a rich progress bar (done/total, failed, rate, elapsed, ETA), or,
  without the ``cli`` extra or when records stream to the same terminal, one line redrawn
  in place.
* ``--progress`` with stderr not a terminal (CI, nohup): a plain line every few seconds
  and a last one at the end.

rich is imported here only, when a bar is drawn: never by ``import apibricks``.
"""

from __future__ import annotations

import abc
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

import attrs

if TYPE_CHECKING:
    from .._outcome import Progress

__all__ = ["Display", "Snapshot", "make_display"]

Clock = Callable[[], float]


@attrs.frozen
class Snapshot:
    """What every display shows; from the fan-out's `Progress` plus the run's own clock."""

    done: int
    total: int
    failed: int
    elapsed: float
    pace: float | None = None  # requests/s the fan-out allows now (adaptive pacing)
    throttled: int = 0  # 429/503 answers seen so far

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 and self.total >= self.done else None

    def describe(self) -> str:
        parts = [f"{self.done:,}/{self.total:,} organizations"]
        if self.failed:
            parts.append(f"{self.failed:,} failed")
        parts.append(f"{self.rate:,.1f}/s")
        if self.pace is not None and math.isfinite(self.pace):
            parts.append(f"pace {self.pace:,.1f}/s")
        if self.throttled:
            parts.append(f"{self.throttled:,} throttled")
        parts.append(f"elapsed {_clock(self.elapsed)}")
        eta = self.eta
        if eta is not None and self.done < self.total:
            parts.append(f"ETA {_clock(eta)}")
        return ", ".join(parts)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class Display(abc.ABC):
    """Told after each organization; `clear` before records go to the same terminal."""

    def __init__(self, total: int, clock: Clock = time.monotonic) -> None:
        self.total = total
        self.clock = clock
        self.started = clock()
        self.last = Snapshot(0, total, 0, 0.0)

    def update(self, progress: Progress) -> None:
        """Take the fan-out's `apibricks.Progress` (timed on this display's clock, which
        also times the final line)."""
        self.last = Snapshot(
            done=progress.done,
            total=self.total,
            failed=progress.errors,
            elapsed=self.clock() - self.started,
            pace=progress.pace,
            throttled=progress.throttled,
        )
        self.show()

    @abc.abstractmethod
    def show(self) -> None: ...

    def _final(self) -> None:
        """The last snapshot, its elapsed time brought up to now."""
        self.last = attrs.evolve(self.last, elapsed=self.clock() - self.started)

    def clear(self) -> None:  # noqa: B027 - most displays have nothing on screen to wipe
        """Wipe what is on screen, so records written to the same terminal start clean."""

    def close(self) -> None:  # noqa: B027 - most displays have nothing left to draw
        """Draw the final state and release the terminal."""


class NoDisplay(Display):
    def show(self) -> None:
        pass


class PlainLines(Display):
    """``apibricks: progress: ...`` lines, one every ``interval`` seconds and one at the end."""

    def __init__(
        self, stream: TextIO, total: int, clock: Clock = time.monotonic, interval: float = 5.0
    ) -> None:
        super().__init__(total, clock)
        self.stream = stream
        self.interval = interval
        self._next = self.started + interval

    def show(self) -> None:
        if self.clock() >= self._next:
            self._write()

    def _write(self) -> None:
        self.stream.write(f"apibricks: progress: {self.last.describe()}\n")
        self.stream.flush()
        self._next = self.clock() + self.interval

    def close(self) -> None:
        self._final()
        self._write()


class TerminalLine(Display):
    """One line redrawn in place with CR: for terminals without rich, or shared with records."""

    redraw_every = 0.1  # seconds; thousands of keys must not flood the terminal

    def __init__(self, stream: TextIO, total: int, clock: Clock = time.monotonic) -> None:
        super().__init__(total, clock)
        self.stream = stream
        self._drawn: float | None = None  # when the line was last drawn; None: not on screen

    def show(self) -> None:
        if self._drawn is None or self.clock() - self._drawn >= self.redraw_every:
            self._draw()

    def _draw(self) -> None:
        self.stream.write(f"\r\x1b[K{self.last.describe()}")
        self.stream.flush()
        self._drawn = self.clock()

    def clear(self) -> None:
        if self._drawn is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = None

    def close(self) -> None:
        self._final()
        self._draw()
        self.stream.write("\n")
        self.stream.flush()


class RichBar(Display):
    """rich's progress bar on stderr, refreshed by rich's own timer."""

    def __init__(self, console: Any, total: int, clock: Clock = time.monotonic) -> None:
        super().__init__(total, clock)
        from rich import progress as rp

        self._bar = rp.Progress(
            rp.TextColumn("organizations"),
            rp.BarColumn(),
            rp.MofNCompleteColumn(),
            rp.TextColumn("{task.fields[failed]} failed"),
            rp.TextColumn("{task.fields[rate]}"),
            rp.TimeElapsedColumn(),
            rp.TextColumn("ETA"),
            rp.TimeRemainingColumn(),
            console=console,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._bar.add_task("", total=total, failed=0, rate="")
        self._bar.start()

    def show(self) -> None:
        snapshot = self.last
        rate = f"{snapshot.rate:,.1f}/s"
        if snapshot.pace is not None and math.isfinite(snapshot.pace):
            rate += f" (pace {snapshot.pace:,.1f}/s, {snapshot.throttled:,} throttled)"
        self._bar.update(self._task, completed=snapshot.done, failed=snapshot.failed, rate=rate)

    def close(self) -> None:
        self._final()
        self.show()
        self._bar.stop()


def make_display(
    mode: str, stream: TextIO, total: int, *, fan_out: bool, shares_terminal: bool
) -> Display:
    """The display for ``mode`` ("auto", "always", "never") on ``stream``."""
    if mode == "never":
        return NoDisplay(total)
    if not _isatty(stream):
        return PlainLines(stream, total) if mode == "always" else NoDisplay(total)
    if mode == "auto" and not fan_out:  # one key is done before a bar would mean anything
        return NoDisplay(total)
    if not shares_terminal:
        try:
            from rich.console import Console
        except ImportError:  # the "cli" extra is not installed: the plain line will do
            pass
        else:
            return RichBar(Console(file=stream), total)
    return TerminalLine(stream, total)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
