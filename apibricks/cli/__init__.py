"""The ``apibricks`` command (also ``python -m apibricks``).

    apibricks invoices paid --sandbox                  # try it: no account, no network
    apibricks invoices paid --format csv -o paid.csv   # key from $APIBRICKS_API_KEY
    apibricks invoices paid --keys-file keys.txt       # every organization, concurrently

Exit status: 0 success; 1 an organization (or the one key) failed, the rest still written;
2 a usage error, reported in one line; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM);
141 the reader of stdout left (``| head``), quietly, as a shell reports SIGPIPE.
No traceback, never a key. Heavy imports (aiohttp, rich, pyarrow) wait until they are used,
so ``apibricks --help`` stays quick.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import stat
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TextIO

from ._args import Config, UsageError, parse_config
from ._text import one_line

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a process ended by SIGPIPE

# How a run can end early, and the word its stderr line uses (a closed pipe says nothing).
_SIGNALS = (
    (signal.SIGINT, EXIT_INTERRUPTED, "interrupted"),
    (signal.SIGTERM, EXIT_TERMINATED, "terminated"),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    config: Config | None = None
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        config = parse_config(args, os.environ, sys.stdin, sys.stdout)
        return _execute(config, args)
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:  # before the event loop ran (checking a keys file), or after
        _error("interrupted; nothing was being fetched")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `... | head`: the reader left before the watch saw it
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        _error(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return EXIT_FAILED
    except Exception as exc:  # a bug: one line, and no key even if a message carried one
        message = one_line(f"{type(exc).__name__}: {exc}")
        for source in config.keys if config else ():
            message = message.replace(source.key, "…")
        _error(f"internal error: {message}; please report it")
        return EXIT_FAILED


def _error(message: str) -> None:
    print(f"apibricks: error: {one_line(message)}", file=sys.stderr, flush=True)


def _silence_stdout() -> None:
    """The reader is gone: what is still buffered for stdout goes nowhere, without a word
    at exit (Python would report the failed flush)."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _execute(config: Config, argv: Sequence[str]) -> int:
    from ._interrupt import interrupted_note

    _configure_logging(config.verbosity)
    if config.output is None:
        return _to_stdout(config, lambda what: interrupted_note(what, argv, None, False, 0))
    if config.resume:
        return _resume(config, config.output, argv)
    output = config.output
    return _to_file(config, output, lambda what: interrupted_note(what, argv, output, False, 0))


def _to_stdout(config: Config, note: Callable[[str], str]) -> int:
    from ._output import make_writer
    from ._run import run

    _prepare_stdout(sys.stdout, config.format)
    writer = make_writer(config.format, sys.stdout, config.columns)
    job = run(config, writer, sys.stderr, out_is_terminal=sys.stdout.isatty())
    return _run_interruptibly(job, note, watch=_pipe_fd(sys.stdout))


def _pipe_fd(stream: TextIO) -> int | None:
    """``stream``'s file descriptor when it is a pipe: its reader may leave (``| head``)."""
    try:
        fd = stream.fileno()
        return fd if stat.S_ISFIFO(os.fstat(fd).st_mode) else None
    except (OSError, ValueError, AttributeError):  # no real file behind it
        return None


def _resume(config: Config, output: Path, argv: Sequence[str]) -> int:
    """The output is the run's journal: appended to as organizations finish, never replaced."""
    from ._ledger import Ledger, LedgerError
    from ._output import make_writer
    from ._parts import PartsLedger
    from ._run import run

    ledger: Ledger | PartsLedger
    try:
        if config.format == "parquet":
            ledger = PartsLedger(output)
            writer = ledger.open()
        else:
            ledger = Ledger(output)
            writer = make_writer(config.format, ledger.open(), config.columns)
    except LedgerError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise _cannot_write(output, exc) from None
    from ._interrupt import interrupted_note

    def note(what: str) -> str:
        return interrupted_note(what, argv, output, True, len(ledger.done))

    try:
        return _run_interruptibly(
            run(config, writer, sys.stderr, out_is_terminal=False, ledger=ledger), note
        )
    finally:
        ledger.close()


def _to_file(config: Config, output: Path, note: Callable[[str], str]) -> int:
    """Written beside ``output`` and renamed over it only when the run ends."""
    from ._atomic import AtomicFile
    from ._ledger import ledger_path
    from ._output import make_writer
    from ._run import run

    if output.is_dir():
        raise UsageError(
            f"--output {output} is a directory; name a file (a directory of Parquet "
            "parts is written by --resume)"
        )
    try:
        target = AtomicFile(output)
    except OSError as exc:
        raise _cannot_write(output, exc) from None
    try:
        if config.format == "parquet":
            writer = make_writer(config.format, target.path)
            job = run(config, writer, sys.stderr, out_is_terminal=False)
            code = _run_interruptibly(job, note)
        else:
            with target.open_text() as out:
                writer = make_writer(config.format, out, config.columns)
                job = run(config, writer, sys.stderr, out_is_terminal=False)
                code = _run_interruptibly(job, note)
    except BaseException:  # a crash: the target stays as it was
        target.discard()
        raise
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        target.discard()
        return code
    try:
        target.commit()
    except OSError:
        target.discard()
        raise
    with contextlib.suppress(OSError):  # a --resume ledger describes the file just replaced
        ledger_path(output).unlink()
    return code


def _cannot_write(output: Path, exc: OSError) -> UsageError:
    return UsageError(f"cannot write {output}: {exc.strerror or exc}; choose another --output")


def _configure_logging(verbosity: int) -> None:
    """-v: the ``apibricks`` logger's INFO lines (one per retry) on stderr; -vv: DEBUG too."""
    if verbosity:
        from .._logging import configure

        configure("info" if verbosity == 1 else "debug")


# A lone surrogate (valid in JSON, not in UTF-8) is written as its JSON escape, \udXXX.
_UNENCODABLE = "backslashreplace"


def _prepare_stdout(stdout: TextIO, format: str) -> None:
    """Machine formats are UTF-8 whatever the locale; a table degrades instead of crashing."""
    if isinstance(stdout, io.TextIOWrapper):
        if format == "table":
            stdout.reconfigure(errors="replace")
        else:
            stdout.reconfigure(encoding="utf-8", errors=_UNENCODABLE)


def _run_interruptibly(
    job: Coroutine[Any, Any, int], note: Callable[[str], str], *, watch: int | None = None
) -> int:
    """Run ``job``; SIGINT, SIGTERM or the reader of pipe ``watch`` leaving cancels it, so
    what was fetched is committed (``--resume``) and connections close cleanly first."""
    import asyncio  # not for --help

    async def guarded() -> int:
        task = asyncio.current_task()
        assert task is not None
        ended: tuple[int, str] | None = None

        def end(code: int, what: str) -> None:
            nonlocal ended
            if ended is None:  # the first reason stands; a second Ctrl-C changes nothing
                ended = (code, what)
                task.cancel()

        loop = asyncio.get_running_loop()
        for signum, code, what in _SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, or not main
                loop.add_signal_handler(signum, end, code, what)
        watching = False
        if watch is not None:
            # The pipe's write end reports an error the moment its reader closes: stop then,
            # not at the next write, which may be a slow organization away.
            with contextlib.suppress(NotImplementedError, OSError, ValueError):
                loop.add_reader(watch, end, EXIT_BROKEN_PIPE, "")
                watching = True
        try:
            return await job
        except asyncio.CancelledError:
            if ended is None:
                raise
        finally:
            if watching and watch is not None:
                loop.remove_reader(watch)
        code, what = ended
        if code == EXIT_BROKEN_PIPE:
            _silence_stdout()
        else:
            _error(note(what))
        return code

    return asyncio.run(guarded())
