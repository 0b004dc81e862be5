"""Memory benchmark: what decoded invoices hold, and the peak while decoding.

For each contender, in a fresh subprocess (no caches, arenas or lazily built validators
left by another contender):

1. read the body (one organization, 100,000 invoices; ``--quick``: 5,000) from a file
   written once by the parent, then warm the decoder up on a small body of another
   organization, so one-off costs (cattrs code generation, pydantic schema) are not counted;
2. decode once untraced and read how much the process's peak RSS grew (``VmHWM``):
   memory really touched while decoding, native buffers included; then free the result;
3. ``tracemalloc.start()``, decode again, read the traced peak: every byte requested while
   decoding (the body was allocated before tracing and is not counted). It counts
   allocated-but-untouched memory too (``orjson.loads`` reserves a document of ~15x its
   input and touches little of it), while pydantic-core's Rust-side parsing buffers are
   not traced at all: read the two peak columns together;
4. free the body, ``gc.collect()``, read the traced current size: the bytes held by the
   decoded objects alone (the figure the target is about).

apibricks shares one ``Organization`` instance per organization within a response; the
peers build one per invoice, as their models are plain trees.

    python benchmarks/bench_memory.py [--quick] [--invoices N]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Contender keys from bench_decode.CONTENDERS, in table order.
MEMORY_CONTENDERS = ("apibricks", "msgspec", "pydantic_json", "json")
TARGET_FRACTION_OF_PYDANTIC = 1 / 5


def measure_in_this_process(key: str, body_path: str, count: int) -> dict[str, float]:
    """The child's job: decode the body once under tracemalloc (see the module docstring)."""
    from _payloads import one_org
    from bench_decode import CONTENDERS_BY_KEY

    decode = CONTENDERS_BY_KEY[key].decode
    body = Path(body_path).read_bytes()
    decode(one_org(50, "warmup"))
    gc.collect()

    rss_before = _max_rss()
    result = decode(body)
    rss_growth = _max_rss() - rss_before
    del result
    gc.collect()

    tracemalloc.start()
    result = decode(body)
    _, peak = tracemalloc.get_traced_memory()
    del body
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert len(result) == count, (key, len(result), count)
    return {"held": held, "peak": peak, "rss_growth": rss_growth, "count": len(result)}


def _max_rss() -> int:
    """This process's peak resident set size so far, in bytes (0 where unknown).

    Linux: ``VmHWM``, which starts afresh at exec; ``ru_maxrss`` would carry over the peak
    of the parent that forked us (the parent holds the whole body).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def measure_in_subprocess(key: str, body_path: str, count: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", key, body_path, str(count)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory child {key!r} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def table(results: dict[str, dict[str, float]], labels: dict[str, str], count: int) -> str:
    pydantic_held = results["pydantic_json"]["held"]
    lines = [
        f"| Contender | held by {count:,} invoices (MB) | bytes / invoice "
        "| vs pydantic held | peak RSS growth while decoding (MB) | traced peak (MB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, numbers in results.items():
        held, peak, rss = numbers["held"], numbers["peak"], numbers["rss_growth"]
        lines.append(
            f"| {labels[key]} | {held / 1e6:,.1f} | {held / count:,.0f} "
            f"| {held / pydantic_held:.3f}x | {rss / 1e6:,.1f} | {peak / 1e6:,.1f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 invoices (CI)")
    parser.add_argument("--invoices", type=int, help="invoices in the body")
    parser.add_argument(
        "--child", nargs=3, metavar=("KEY", "BODY", "COUNT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)

    if args.child:
        key, body_path, count = args.child
        print(json.dumps(measure_in_this_process(key, body_path, int(count))))
        return 0

    from _payloads import one_org
    from bench_decode import CONTENDERS_BY_KEY

    count = args.invoices or (5_000 if args.quick else 100_000)
    labels = {key: CONTENDERS_BY_KEY[key].label for key in MEMORY_CONTENDERS}
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="apibricks-bench-") as tmp:
        body_path = os.path.join(tmp, "body.json")
        body = one_org(count)
        Path(body_path).write_bytes(body)
        size = len(body)
        del body
        for key in MEMORY_CONTENDERS:
            print(f"[memory] {key}: decoding {count:,} invoices ...", file=sys.stderr, flush=True)
            results[key] = measure_in_subprocess(key, body_path, count)

    print(
        f"**One organization, {count:,} invoices** ({size / 1e6:,.1f} MB body), "
        "tracemalloc, one fresh process per contender"
    )
    print()
    print(table(results, labels, count))
    print()
    fraction = results["apibricks"]["held"] / results["pydantic_json"]["held"]
    verdict = "PASS" if fraction <= TARGET_FRACTION_OF_PYDANTIC else "MISS"
    print(
        f"Target: apibricks holds ≤ 1/5 of pydantic's memory: **{verdict}** "
        f"({fraction:.3f}x, i.e. 1/{1 / fraction:,.1f})"
    )
    if args.quick:
        print()
        print("_Smoke run (`--quick`): a small body; the verdict is indicative._")
    return 0


if __name__ == "__main__":
    sys.exit(main())
