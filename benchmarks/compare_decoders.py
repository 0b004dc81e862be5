"""Another checkout's decoder against this one, side by side in one run, every shape.

    python benchmarks/compare_decoders.py --before /path/to/old/checkout [--rounds 5]

The old ``apibricks`` package is copied into a temporary directory as ``apibricks_before``
(its imports are relative, so it runs unchanged next to this one), then `bench_decode`
runs every shape with both decoders, pydantic, msgspec and the parsers alone, and prints
one before/after table.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bench_decode as bd


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="a checkout holding apibricks/")
    parser.add_argument("--rounds", default="5")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="run only the shapes whose name or layout contains this")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="apibricks-before-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    shutil.copytree(Path(args.before) / "apibricks", root / "apibricks_before")
    sys.path.insert(0, str(root))
    before = importlib.import_module("apibricks_before")
    keep = ("json", "orjson", "orjson_free", "apibricks", "msgspec", "pydantic_json")
    decode_before = before.decode_invoices
    uuids = getattr(importlib.import_module("apibricks_before._converter"), "_UUIDS", None)
    if uuids is not None:  # a process-wide UUID cache: every round a new response's ids

        def decode_before(body: bytes) -> Any:
            uuids.clear()
            return before.decode_invoices(body)

    bd.CONTENDERS = (
        *(c for c in bd.CONTENDERS if c.key in keep),
        bd.Contender("before", f"apibricks from {args.before}", decode_before),
    )
    shown = bd.summary

    def summary(results: Sequence[tuple[str, str, dict[str, bd.Row]]]) -> str:
        lines = [
            "| shape | layout | before ms | after ms | pydantic ms | msgspec ms "
            "| before / pydantic | after / pydantic | after / msgspec "
            "| before / own compact | after / own compact |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        compact: dict[str, tuple[float, float]] = {}
        for shape, layout, rows in results:
            b, a, p, m = (
                rows[k].median for k in ("before", "apibricks", "pydantic_json", "msgspec")
            )
            if layout == "compact":
                compact[shape] = (b, a)
            base = compact.get(shape)
            own = "| | |" if base is None else f"| {b / base[0]:.2f}x | {a / base[1]:.2f}x |"
            lines.append(
                f"| {shape} | {layout} | {bd._ms(b)} | {bd._ms(a)} | {bd._ms(p)} "
                f"| {bd._ms(m)} | {b / p:.2f}x | {a / p:.2f}x | {a / m:.2f}x {own}"
            )
        return shown(results) + "\n\nBefore and after:\n\n" + "\n".join(lines)

    bd.summary = summary
    only = ["--only", args.only] if args.only else []
    return bd.main(["--rounds", args.rounds, *(["--quick"] if args.quick else []), *only])


if __name__ == "__main__":
    sys.exit(main())
