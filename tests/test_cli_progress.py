"""The progress displays, driven by a fake clock, and what the CLI imports at start-up."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

import apibricks
from apibricks.cli._progress import (
    NoDisplay,
    PlainLines,
    RichBar,
    Snapshot,
    TerminalLine,
    make_display,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_snapshot_says_done_total_failed_rate_elapsed_eta() -> None:
    snapshot = Snapshot(done=250, total=1000, failed=3, elapsed=50.0)
    assert snapshot.describe() == (
        "250/1,000 organizations, 3 failed, 5.0/s, elapsed 0:00:50, ETA 0:02:30"
    )
    paced = Snapshot(done=1000, total=1000, failed=0, elapsed=3725.0, pace=4.5, throttled=7)
    assert paced.describe() == (
        "1,000/1,000 organizations, 0.3/s, pace 4.5/s, 7 throttled, elapsed 1:02:05"
    )


def test_plain_lines_every_interval_and_one_at_the_end() -> None:
    clock, stream = Clock(), io.StringIO()
    display = PlainLines(stream, 10, clock=clock, interval=5.0)
    for done in range(1, 5):
        clock.now += 2.0
        display.update(apibricks.Progress(done, 10, done // 4))
    clock.now += 1.0
    display.close()
    assert stream.getvalue().splitlines() == [
        "apibricks: progress: 3/10 organizations, 0.5/s, elapsed 0:00:06, ETA 0:00:14",
        "apibricks: progress: 4/10 organizations, 1 failed, 0.4/s, elapsed 0:00:09, ETA 0:00:13",
    ]


def test_pace_and_throttling_from_the_fan_out_are_shown() -> None:
    clock, stream = Clock(), io.StringIO()
    display = PlainLines(stream, 100, clock=clock, interval=5.0)
    clock.now += 10.0
    display.update(apibricks.Progress(40, 100, 0, elapsed=10.0, rate=4.0, pace=3.5, throttled=12))
    assert stream.getvalue() == (
        "apibricks: progress: 40/100 organizations, 4.0/s, pace 3.5/s, 12 throttled, "
        "elapsed 0:00:10, ETA 0:00:15\n"
    )


def test_terminal_line_redraws_in_place_and_clears_for_records() -> None:
    clock, stream = Clock(), Terminal()
    display = TerminalLine(stream, 3, clock=clock)
    clock.now += 1.0
    display.update(apibricks.Progress(1, 3, 0))
    display.update(apibricks.Progress(2, 3, 1))  # within the redraw interval: not drawn
    display.clear()
    clock.now += 1.0
    display.close()
    assert stream.getvalue() == (
        "\r\x1b[K1/3 organizations, 1.0/s, elapsed 0:00:01, ETA 0:00:02"
        "\r\x1b[K"
        "\r\x1b[K2/3 organizations, 1 failed, 1.0/s, elapsed 0:00:02, ETA 0:00:01\n"
    )


def test_rich_bar_shows_done_total_failed_and_rate() -> None:
    from rich.console import Console

    stream = io.StringIO()
    clock = Clock()
    display = RichBar(Console(file=stream, force_terminal=True, width=150), 10, clock=clock)
    clock.now += 2.0
    display.update(apibricks.Progress(4, 10, 1))
    display.close()
    text = stream.getvalue()
    assert "4/10" in text
    assert "1 failed" in text
    assert "2.0/s" in text


@pytest.mark.parametrize(
    ("mode", "terminal", "fan_out", "shares", "kind"),
    [
        ("never", True, True, False, NoDisplay),
        ("auto", False, True, False, NoDisplay),  # CI logs stay clean unless asked
        ("always", False, False, False, PlainLines),
        ("auto", True, False, False, NoDisplay),  # one key: nothing worth a bar
        ("auto", True, True, False, RichBar),
        ("always", True, False, False, RichBar),
        ("auto", True, True, True, TerminalLine),  # records stream to the same terminal
    ],
)
def test_display_choice(mode: str, terminal: bool, fan_out: bool, shares: bool, kind: type) -> None:
    stream = Terminal() if terminal else io.StringIO()
    display = make_display(mode, stream, 5, fan_out=fan_out, shares_terminal=shares)
    try:
        assert type(display) is kind
    finally:
        display.close()


def test_without_rich_a_terminal_gets_the_plain_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rich.console", None)  # as if the cli extra were absent
    display = make_display("auto", Terminal(), 5, fan_out=True, shares_terminal=False)
    assert type(display) is TerminalLine


def test_help_imports_neither_aiohttp_nor_rich() -> None:
    """The CLI's own modules stay light, whatever ``apibricks/__init__`` imports."""
    code = (
        "import sys, types, pathlib\n"
        "import apibricks.cli as probe\n"  # locate the package, then start over without it
        "root = pathlib.Path(probe.__file__).parent.parent\n"
        "for name in [m for m in sys.modules if m.split('.')[0] in ('apibricks', 'aiohttp', "
        "'rich', 'pyarrow', 'yarl', 'multidict')]:\n"
        "    del sys.modules[name]\n"
        "package = types.ModuleType('apibricks')\n"
        "package.__path__ = [str(root)]\n"
        "sys.modules['apibricks'] = package\n"  # skip the package __init__: test the CLI alone
        "from apibricks.cli import main\n"
        "assert main(['invoices', 'paid', '--help']) == 0\n"
        "heavy = {'aiohttp', 'rich', 'pyarrow', 'yarl'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.splitlines()[-1] == "[]"
