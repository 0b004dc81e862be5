"""``python -m apibricks.sandbox``: run the sandbox in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from . import DEMO_KEY, Sandbox
from ._data import DEFAULT_INVOICES_PER_ORG
from ._limiter import ALGORITHMS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m apibricks.sandbox",
        description="A local stand-in for the APIBricks Console API (pydoc apibricks.sandbox).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8080, help="0 picks a free port (default %(default)s)"
    )
    parser.add_argument(
        "--invoices", type=int, default=DEFAULT_INVOICES_PER_ORG, help="invoices per organization"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    limits = parser.add_argument_group("rate limits (429 without Retry-After, as nginx)")
    limits.add_argument("--rate-limit", type=float, help="requests/s across all keys")
    limits.add_argument("--burst", type=int, default=1, help="bucket size (default %(default)s)")
    limits.add_argument("--per-key-rate-limit", type=float, help="requests/s for each key")
    limits.add_argument("--per-key-burst", type=int, help="per-key bucket size (default: --burst)")
    limits.add_argument(
        "--limiter",
        choices=ALGORITHMS,
        default="token-bucket",
        help="how the limits count: nginx is limit_req (nginx-nodelay: with nodelay), "
        "answering its 429s before the latency (default %(default)s)",
    )
    return parser


async def _run(args: argparse.Namespace) -> None:
    sandbox = Sandbox(
        invoices_per_org=args.invoices,
        latency=args.latency,
        rate_limit=args.rate_limit,
        burst=args.burst,
        per_key_rate_limit=args.per_key_rate_limit,
        per_key_burst=args.per_key_burst,
        limiter=args.limiter,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Ctrl-C too ends the wait, then the server shuts down in order: a KeyboardInterrupt
    # raised wherever the loop happens to be (asyncio.run on 3.10) can land inside a
    # response being written and leave its coroutine never awaited.
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            loop.add_signal_handler(signum, stop.set)
    async with sandbox.serve(args.host, args.port) as url:
        print(f"APIBricks sandbox listening on {url}", flush=True)
        print(f"  curl -H 'Authorization: {DEMO_KEY}' {url}/invoices/paid", flush=True)
        print(f"  export APIBRICKS_BASE_URL={url} APIBRICKS_API_KEY={DEMO_KEY}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        asyncio.run(_run(args))
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # typically: the port is taken
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
