"""The ``apibricks`` command (also ``python -m apibricks``).

    apibricks invoices paid --sandbox                  # try it: no account, no network
    apibricks invoices paid --format csv -o paid.csv   # key from $APIBRICKS_API_KEY
    apibricks invoices paid --keys-file keys.txt       # every organization, concurrently

Exit status: 0 success; 1 an organization (or the one key) failed, the rest still written;
2 a usage error, reported in one line; 130 interrupted. No traceback, never a key.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from typing import Any, TextIO

from ._args import Config, UsageError, parse_config

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    config: Config | None = None
    try:
        config = parse_config(
            sys.argv[1:] if argv is None else argv, os.environ, sys.stdin, sys.stdout
        )
        return _execute(config)
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:  # before or after the event loop ran
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `... | head`: the reader left; quiet, but 1: output is incomplete
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except OSError as exc:
        _error(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return EXIT_FAILED
    except Exception as exc:  # a bug: one line, and no key even if a message carried one
        from ._output import one_line

        message = one_line(f"{type(exc).__name__}: {exc}")
        for source in config.keys if config else ():
            message = message.replace(source.key, "…")
        _error(f"internal error: {message}; please report it")
        return EXIT_FAILED


def _error(message: str) -> None:
    from ._output import one_line  # the decoder's imports: not for --help

    print(f"apibricks: error: {one_line(message)}", file=sys.stderr, flush=True)


def _execute(config: Config) -> int:
    from ._run import run  # aiohttp: not for --help

    if config.output is None:
        _prepare_stdout(sys.stdout, config.format)
        return _run_interruptibly(
            run(config, sys.stdout, sys.stderr, out_is_terminal=sys.stdout.isatty())
        )
    try:
        out = config.output.open("w", encoding="utf-8", errors=_UNENCODABLE, newline="")
    except OSError as exc:
        raise UsageError(
            f"cannot write {config.output}: {exc.strerror or exc}; choose another --output"
        ) from None
    with out:
        return _run_interruptibly(run(config, out, sys.stderr, out_is_terminal=False))


# A lone surrogate (valid in JSON, not in UTF-8) is written as its JSON escape, \udXXX.
_UNENCODABLE = "backslashreplace"


def _prepare_stdout(stdout: TextIO, format: str) -> None:
    """Machine formats are UTF-8 whatever the locale; a table degrades instead of crashing."""
    if isinstance(stdout, io.TextIOWrapper):
        if format == "table":
            stdout.reconfigure(errors="replace")
        else:
            stdout.reconfigure(encoding="utf-8", errors=_UNENCODABLE)


def _run_interruptibly(job: Coroutine[Any, Any, int]) -> int:
    """Run ``job``; Ctrl-C cancels it, so connections and the sandbox close cleanly first."""
    import asyncio  # not for --help

    async def guarded() -> int:
        task = asyncio.current_task()
        assert task is not None
        interrupted = False

        def interrupt() -> None:
            nonlocal interrupted
            interrupted = True
            task.cancel()

        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, or not main
            loop.add_signal_handler(signal.SIGINT, interrupt)
        try:
            return await job
        except asyncio.CancelledError:
            if not interrupted:
                raise
        _error("interrupted")
        return EXIT_INTERRUPTED

    return asyncio.run(guarded())
