"""Run every benchmark and print one combined markdown report (``nox -s bench``).

Each script runs in its own subprocess (``--quick`` passed through) and prints markdown
on stdout; this collects them under one header naming the machine, the date, the
Python version and the exact command. ``--write`` (full mode only) also replaces the
results section of ``benchmarks/README.md``.

A script that fails (a correctness assertion, a crash) makes this exit non-zero; timing
never does: the figures are printed, not asserted.

    python benchmarks/run_all.py [--quick] [--write] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
BEGIN = "<!-- results:begin (written by `python benchmarks/run_all.py --write`) -->"
END = "<!-- results:end -->"

# (script, title); scripts that are not there (yet) are skipped with a note.
BENCHMARKS: tuple[tuple[str, str], ...] = (
    ("bench_decode.py", "Decode: response bytes → typed objects"),
    ("bench_memory.py", "Memory: held by decoded invoices, and peak while decoding"),
    ("bench_stream.py", "Streaming: `iter_paid()` against `list_paid()` and ijson"),
    ("bench_end_to_end.py", "End to end: `list_paid()` over loopback"),
    ("bench_sync_overhead.py", "Sync facade overhead"),
    ("bench_fan_out.py", "Fan-out across organizations"),
    ("bench_small_request.py", "One small request"),
    ("bench_startup.py", "Start-up: `import apibricks` and `apibricks --help`"),
    ("bench_instructions.py", "Fan-out: CPU instructions per request (callgrind)"),
)
# Too slow for the smoke run (a dozen interpreters under valgrind): full runs only.
FULL_ONLY: frozenset[str] = frozenset({"bench_instructions.py"})
# Full runs also redraw the charts that docs/performance.md embeds.
FULL_ONLY_ARGS: dict[str, list[str]] = {
    "bench_decode.py": ["--charts", str(HERE.parent / "docs" / "img")],
}
TIMEOUT_SECONDS = {False: 1800, True: 110}


def _memory_bytes() -> int | None:
    try:
        import psutil
    except ImportError:
        pass
    else:
        return int(psutil.virtual_memory().total)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _cpu() -> str:
    """``platform.processor()``, else the model name Linux reports, plus ``uname -m``."""
    name = platform.processor()
    if not name or name == platform.machine():
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
    machine = platform.machine() or "unknown"
    return f"{name} ({machine})" if name and name != machine else machine


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("apibricks", "aiohttp", "cattrs", "attrs", "orjson", "msgspec", "pydantic"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} {_version_from_source(name)}")
    return ", ".join(found)


def _version_from_source(name: str) -> str:
    """The version of a package importable but not installed (a PYTHONPATH checkout)."""
    try:
        module = __import__(name)
    except ImportError:
        return "(not installed)"
    return f"{getattr(module, '__version__', '?')} (source tree)"


def header(argv: Sequence[str]) -> str:
    memory = _memory_bytes()
    memory_text = f"{memory / 2**30:.1f} GiB RAM" if memory else "RAM unknown"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = shlex.join(["python", "benchmarks/run_all.py", *argv])
    return "\n".join(
        [
            f"- Machine: {_cpu()}, {os.cpu_count()} cores, {memory_text}, "
            f"{platform.system()} {platform.release()}",
            f"- Date: {now}",
            f"- Python: {platform.python_implementation()} {platform.python_version()}",
            f"- Packages: {_versions()}",
            f"- Command: `{command}`",
        ]
    )


def run_script(script: str, quick: bool) -> tuple[int, str, float]:
    """(return code, markdown or error text, seconds) of one benchmark script."""
    extra = ["--quick"] if quick else FULL_ONLY_ARGS.get(script, [])
    command = [sys.executable, str(HERE / script), *extra]
    print(f"[run_all] {shlex.join(command)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=None,  # progress lines go straight to our stderr
            text=True,
            timeout=TIMEOUT_SECONDS[quick],
            check=False,
        )
    except subprocess.TimeoutExpired:
        elapsed = time.perf_counter() - start
        return 1, f"**FAILED**: timed out after {elapsed:.0f} s.", elapsed
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        text = f"**FAILED** (exit code {done.returncode}); see stderr.\n\n{done.stdout.strip()}"
        return done.returncode, text.strip(), elapsed
    return 0, nest_headings(done.stdout.strip()), elapsed


_HEADING = re.compile(r"^(#{1,6}) ", re.MULTILINE)


def nest_headings(text: str, level: int = 4) -> str:
    """Shift a script's markdown headings so that its top ones sit at ``level``."""
    levels = [len(match.group(1)) for match in _HEADING.finditer(text)]
    shift = level - min(levels) if levels and min(levels) < level else 0
    if not shift:
        return text
    return _HEADING.sub(lambda m: "#" * min(6, len(m.group(1)) + shift) + " ", text)


def write_readme(report: str) -> None:
    text = README.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{README}: the {BEGIN!r} / {END!r} markers are missing")
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    README.write_text(f"{before}{BEGIN}\n{report}\n{END}{after}", encoding="utf-8")
    print(f"[run_all] wrote the results into {README}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes (CI)")
    parser.add_argument("--write", action="store_true", help="update benchmarks/README.md")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="e.g. --only decode memory")
    args = parser.parse_args(argv)
    if args.write and args.quick:
        parser.error("--write records full runs only; drop --quick")

    sections = [header(argv)]
    failures = []
    for script, title in BENCHMARKS:
        if args.only and not any(name in script for name in args.only):
            continue
        sections += ["", f"### {title}", ""]
        if not (HERE / script).exists():
            sections.append(f"_`{script}` is not there; skipped._")
            continue
        if args.quick and script in FULL_ONLY:
            sections.append(f"_`{script}` runs in full runs only; skipped._")
            continue
        code, text, elapsed = run_script(script, args.quick)
        if code:
            failures.append(script)
        sections += [text, "", f"<sub>`{script}`: {elapsed:.1f} s</sub>"]

    report = "\n".join(sections)
    heading = "## Benchmark results" + (" (smoke run, `--quick`)" if args.quick else "")
    print(f"{heading}\n\n{report}")
    if failures:
        print(f"\n[run_all] FAILED: {', '.join(failures)}", file=sys.stderr)
        return 1
    if args.write:
        write_readme(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
