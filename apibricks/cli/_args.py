"""Turning argv and the environment into a checked `Config`, before any I/O.

Every mistake a user can make on the command line surfaces here as a `UsageError` with one
line saying what is wrong and what to do, so the job itself only meets API failures.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TextIO

from .._auth import API_KEY_ENV, APIKeyError, validate_api_key
from .._defaults import BASE_URL_ENV, DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from .._version import __version__

__all__ = ["FORMATS", "Config", "KeySource", "UsageError", "parse_config"]

PROG = "apibricks"
FORMATS = ("table", "json", "jsonl", "csv")
_SUFFIX_FORMATS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
_HELP_HINT = "see 'apibricks invoices paid --help'"


class UsageError(Exception):
    """A mistake in the command line or its inputs: reported in one line, exit status 2."""


@dataclass(frozen=True)
class KeySource:
    """One API key and where it came from, so a failure can point at the keys-file line."""

    key: str
    where: str


@dataclass(frozen=True)
class Config:
    keys: list[KeySource]
    fan_out: bool  # keys came from --keys-file: show progress, summarise failures
    base_url: str | None  # None with --sandbox: the embedded sandbox's URL is used
    sandbox: bool
    format: str
    output: Path | None  # None: stdout
    concurrency: int
    timeout: float | None
    max_retries: int


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are the one-line ``apibricks: error: ...`` every error uses."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}; {_HELP_HINT}")


def _whole(minimum: int) -> Callable[[str], int]:
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return value

    return check


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected seconds >= 0 (0: no limit), got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Command line for the APIBricks Console API.",
        epilog="Try it with no account: apibricks invoices paid --sandbox",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="resource", metavar="RESOURCE", required=True)
    invoices = commands.add_parser("invoices", help="invoices of your organization(s)")
    actions = invoices.add_subparsers(dest="action", metavar="ACTION", required=True)
    paid = actions.add_parser(
        "paid",
        help="list paid invoices",
        description=(
            "List the paid invoices of one organization (its API key) or of many "
            "(--keys-file, fetched concurrently over one connection pool)."
        ),
        epilog=(
            "Exit status: 0 all fetched; 1 an organization failed (the others are still "
            "printed; failures are listed on stderr); 2 a usage error; 130 interrupted."
        ),
    )
    who = paid.add_argument_group("organizations")
    who.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"the organization's API key (default ${API_KEY_ENV}; prefer the variable: "
        "arguments show up in process lists and shell history)",
    )
    who.add_argument(
        "--keys-file",
        metavar="FILE",
        help="one API key per line (blank lines and # comments ignored; '-' reads stdin): "
        "fetch every organization's invoices",
    )
    where = paid.add_argument_group("server")
    where.add_argument(
        "--base-url", metavar="URL", help=f"API base URL (default ${BASE_URL_ENV}, else production)"
    )
    where.add_argument(
        "--sandbox",
        action="store_true",
        help="run against an embedded sandbox on loopback: no account needed; without a key it "
        f"uses the demo key (${API_KEY_ENV} and ${BASE_URL_ENV} are ignored)",
    )
    out = paid.add_argument_group("output")
    out.add_argument(
        "--format",
        choices=FORMATS,
        help="default: from the --output suffix (.json .jsonl .ndjson .csv), else table on a "
        "terminal, json otherwise",
    )
    out.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    tuning = paid.add_argument_group("tuning")
    tuning.add_argument(
        "--concurrency",
        type=_whole(1),
        default=32,
        metavar="N",
        help="organizations fetched at once (default %(default)s)",
    )
    tuning.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="per attempt; 0 means no limit (default %(default)s)",
    )
    tuning.add_argument(
        "--max-retries",
        type=_whole(0),
        default=DEFAULT_MAX_RETRIES,
        metavar="N",
        help="retries of transient failures (default %(default)s)",
    )
    return parser


def read_keys(name: str, stdin: TextIO) -> list[KeySource]:
    """The keys of a keys file, each checked now so a bad line is named by its number."""
    label = "stdin" if name == "-" else name
    try:
        text = stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8-sig")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"cannot read keys file {label}: {reason}; check the path") from None
    except UnicodeDecodeError:
        raise UsageError(f"keys file {label} is not UTF-8 text; save it as UTF-8") from None
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        key = line.strip()
        if not key or key.startswith("#"):
            continue
        where = f"{label}:{number}"
        try:
            keys.append(KeySource(validate_api_key(key), where))
        except APIKeyError as exc:
            raise UsageError(f"{where}: {exc}; fix or remove that line") from None
    if not keys:
        raise UsageError(f"keys file {label} has no keys; put one API key per line")
    return keys


def check_url(url: str, source: str) -> str:
    """An absolute http(s) URL, and plain http only to loopback (the key would travel in clear)."""
    from yarl import URL  # with aiohttp below: not for --help

    from .._async._transport import check_base_url

    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        parsed = URL()
    shown = repr(str(parsed.with_user(None)) if parsed.host else url.split("@")[-1])
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError(
            f"{source} {shown} is not an absolute http(s) URL; use e.g. {DEFAULT_BASE_URL}"
        )

    try:
        check_base_url(url, allow_insecure_http=False)
    except ValueError:
        raise UsageError(
            f"{source} {shown} uses plain http to a non-loopback host, so the API key would "
            "travel unencrypted; use https://"
        ) from None
    return url


def _default_format(output: Path | None, stdout: TextIO) -> str:
    if output is not None:
        return _SUFFIX_FORMATS.get(output.suffix.lower(), "json")
    return "table" if stdout.isatty() else "json"


def parse_config(
    argv: Sequence[str], environ: Mapping[str, str], stdin: TextIO, stdout: TextIO
) -> Config:
    """Parse and check everything; raises `UsageError` (and SystemExit for --help/--version)."""
    args = build_parser().parse_args(argv)
    if args.api_key is not None and args.keys_file is not None:
        raise UsageError("--api-key and --keys-file exclude each other; use one of them")
    if args.sandbox and args.base_url is not None:
        raise UsageError("--sandbox and --base-url exclude each other; use one of them")

    if args.keys_file is not None:
        keys = read_keys(args.keys_file, stdin)
    else:
        # Under --sandbox the environment's key is ignored: it belongs to the real service.
        key = args.api_key
        if key is None and not args.sandbox:
            key = environ.get(API_KEY_ENV) or None
        if key is None and args.sandbox:
            from ..sandbox import DEMO_KEY

            key = DEMO_KEY
        if key is None:
            raise UsageError(
                f"no API key; set {API_KEY_ENV}, pass --api-key or --keys-file, "
                "or try it without an account: apibricks invoices paid --sandbox"
            )
        source = "--api-key" if args.api_key is not None else API_KEY_ENV
        try:
            keys = [KeySource(validate_api_key(key), source)]
        except APIKeyError as exc:
            raise UsageError(f"{source}: {exc}; check the key") from None

    base_url = None
    if not args.sandbox:
        if args.base_url is not None:
            base_url = check_url(args.base_url, "--base-url")
        elif environ.get(BASE_URL_ENV):
            base_url = check_url(environ[BASE_URL_ENV], BASE_URL_ENV)
        else:
            base_url = DEFAULT_BASE_URL

    output = None if args.output in (None, "-") else Path(args.output)
    return Config(
        keys=keys,
        fan_out=args.keys_file is not None,
        base_url=base_url,
        sandbox=args.sandbox,
        format=args.format or _default_format(output, stdout),
        output=output,
        concurrency=args.concurrency,
        timeout=args.timeout or None,
        max_retries=args.max_retries,
    )
