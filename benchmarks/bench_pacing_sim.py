"""The pacer on a virtual clock over many random settings: the figures docs/rate-limits.md gives.

    python benchmarks/bench_pacing_sim.py [--runs 2000] [--seed 30]

Runs the real fan-out and pacer against the model limiters of ``tests/_pacing_sim.py``
(token bucket, nginx ``limit_req`` with and without ``nodelay``, fixed and sliding
windows) at settings drawn uniformly from the ranges the property tests cover: rate
1-500/s, burst 1-50, concurrency 1-200, 10-10,000 keys, latency 0-200 ms. Virtual time:
no sockets, no sleeping, the same figures on any machine. Prints keys lost, the most 429s
one key got, and the worst wall time against the limiter's ideal (over the runs whose
ideal is at least 10 s, where finding the pace is a small part of the run, and over all),
per limiter too, with the most time beyond 1.25 x the ideal and a round of MIN_ANSWERS
answers at the rate (the additive slack ``tests/test_pacing_sim.py`` allows).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _pacing_sim import ideal_wall, simulate

from apibricks._async._pacing import MIN_ANSWERS

ALGORITHMS = ["token-bucket", "nginx", "nginx-nodelay", "fixed-window", "sliding-window"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=30)
    args = parser.parse_args()
    draw = random.Random(args.seed)
    began = time.perf_counter()
    lost = most_refused = 0
    worst_long = worst_any = (0.0, {})  # ratio, settings
    per_limiter = {name: [0, 0.0, 0.0, -float("inf")] for name in ALGORITHMS}  # runs, ratios, slack
    for run in range(args.runs):
        settings = {
            "algorithm": draw.choice(ALGORITHMS),
            "rate": float(draw.randint(1, 500)),
            "burst": draw.randint(1, 50),
            "concurrency": draw.randint(1, 200),
            "keys": draw.randint(10, 10_000),
            "latency": draw.randint(0, 200) / 1000,
        }
        result = simulate(**settings, seed=run)
        lost += len(result.failed)
        most_refused = max(most_refused, max(result.refused.values()))
        ideal = ideal_wall(**settings)
        ratio = result.wall / ideal
        mine = per_limiter[settings["algorithm"]]
        mine[0] += 1
        mine[1] = max(mine[1], ratio if ideal >= 10 else 0.0)
        mine[2] = max(mine[2], ratio)
        mine[3] = max(mine[3], result.wall - 1.25 * ideal - MIN_ANSWERS / settings["rate"])
        if ratio > worst_any[0]:
            worst_any = (ratio, settings)
        if ideal >= 10 and ratio > worst_long[0]:
            worst_long = (ratio, settings)
    print(f"{args.runs} runs (seed {args.seed}) in {time.perf_counter() - began:.0f} s")
    print(f"keys lost: {lost}; most 429s to one key: {most_refused}")
    print(f"worst wall / ideal, ideal >= 10 s: {worst_long[0]:.3f} at {worst_long[1]}")
    print(f"worst wall / ideal, any run: {worst_any[0]:.3f} at {worst_any[1]}")
    print("limiter         runs  worst, ideal >= 10 s  worst, any  beyond 1.25 x ideal + 8 / rate")
    for name, (runs, long, any_run, slack) in per_limiter.items():
        print(f"{name:15} {runs:4}  {long:19.3f}  {any_run:10.3f}  {slack:+.2f} s")


if __name__ == "__main__":
    main()
