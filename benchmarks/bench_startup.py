"""Start-up: ``python -c "import apibricks"`` and ``apibricks --help``, against peers.

Each figure is the median wall time of a fresh interpreter (``sys.executable``), runs
interleaved round by round so drift hits every command alike. ``python -c pass`` is the
floor; ``import aiohttp`` is what apibricks 0.1 paid on import.

Measured as a user's installed package starts: from bytecode caches. ``pip install``
writes them; an editable or ``uv`` install may not, and ``PYTHONDONTWRITEBYTECODE`` (set in
some containers) stops Python from writing them, so every import would compile every
module from source (``import aiohttp`` ~2.5x slower here). The children run without it,
and the warm-up round writes the caches where it may.

    python benchmarks/bench_startup.py [--quick] [--runs N]

Target (issue 13): ``import apibricks`` and ``apibricks --help`` each ≤ 100 ms median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

TARGET_MS = 100.0
_NEUTRAL = tempfile.gettempdir()
_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
HELP = "import sys; from apibricks.cli import main; sys.exit(main(['--help']))"
COMMANDS: tuple[tuple[str, str], ...] = (
    ("`python -c pass` (floor)", "pass"),
    ("**`import apibricks`**", "import apibricks"),
    ("**`apibricks --help`**", HELP),
    (
        "`import apibricks; apibricks.AsyncClient` (first client)",
        "import apibricks; apibricks.AsyncClient",
    ),
    ("`import aiohttp`", "import aiohttp"),
    ("`import httpx`", "import httpx"),
    ("`import requests`", "import requests"),
    ("`import pydantic; pydantic.BaseModel`", "import pydantic; pydantic.BaseModel"),
    ("`import msgspec`", "import msgspec"),
)


def run_once(code: str) -> float:
    start = time.perf_counter()
    subprocess.run(  # cwd: not the checkout, whose apibricks/ would shadow what is installed
        [sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL, cwd=_NEUTRAL, env=_ENV
    )
    return (time.perf_counter() - start) * 1e3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few runs (CI smoke run)")
    parser.add_argument("--runs", type=int, help="runs per command")
    args = parser.parse_args(argv)
    runs = args.runs or (2 if args.quick else 21)
    times: dict[str, list[float]] = {label: [] for label, _ in COMMANDS}
    for code in (code for _, code in COMMANDS):  # warm the file and bytecode caches
        run_once(code)
    for r in range(runs):
        shift = r % len(COMMANDS)
        for label, code in (*COMMANDS[shift:], *COMMANDS[:shift]):
            times[label].append(run_once(code))
    floor = statistics.median(times[COMMANDS[0][0]])
    print(
        f"Python {sys.version.split()[0]}, median of {runs} fresh interpreters each, interleaved."
    )
    print()
    print("| command | ms (median) | ms (min) | above `python -c pass` |")
    print("|---|---:|---:|---:|")
    for label, _ in COMMANDS:
        median = statistics.median(times[label])
        print(f"| {label} | {median:.1f} | {min(times[label]):.1f} | {median - floor:+.1f} |")
    print()
    for label in ("**`import apibricks`**", "**`apibricks --help`**"):
        median = statistics.median(times[label])
        verdict = "met" if median <= TARGET_MS else "**not met**"
        print(
            f"- {label.strip('*')}: {median:.1f} ms median; target ≤ {TARGET_MS:.0f} ms: {verdict}."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
