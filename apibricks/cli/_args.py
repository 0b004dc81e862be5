"""Turning argv and the environment into a checked `Config`, before any I/O.

Every mistake a user can make on the command line surfaces here as a `UsageError` with one
line saying what is wrong and what to do, so the job itself only meets API failures.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, TextIO

from .._auth import API_KEY_ENV, APIKeyError, validate_api_key
from .._defaults import default, env_names, resolve
from .._version import __version__
from ._errors import UsageError
from ._keys import KeyFile, Keys, KeySource
from ._shard import Shard, parse_shard

if TYPE_CHECKING:
    from .._settings import ClientSettings

__all__ = ["FORMATS", "Config", "KeySource", "UsageError", "parse_config"]


# As `apibricks._async._client` names it (not imported from there: that imports aiohttp).
PROG = "apibricks"
FORMATS = ("table", "json", "jsonl", "csv", "parquet")
_SUFFIX_FORMATS = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
}
_BASE_URL_ENV = env_names("base_url")[0]
_CA_BUNDLE_ENV = env_names("ssl")[0]
# The flags that set a client setting, as errors name them.
_FLAGS = {"base_url": "--base-url", "ssl": "--ca-bundle", "proxy": "--proxy"}
# --sandbox: the client's base URL until the embedded sandbox serves (then its own URL).
_SANDBOX_PLACEHOLDER = "http://127.0.0.1"
_HELP_HINT = "see 'apibricks invoices paid --help'"
_COLUMN_FORMATS = ("table", "csv")
_RESUME_FORMATS = ("jsonl", "parquet")


class Config(NamedTuple):  # not attrs: `--help` loads none (see .._defaults)
    keys: Keys
    fan_out: bool  # keys came from --keys-file: show progress, summarise failures
    base_url: str | None  # None with --sandbox: the embedded sandbox's URL is used
    sandbox: bool
    format: str
    output: Path | None  # None: stdout
    concurrency: int
    settings: ClientSettings  # the client's, from flags and the environment as the library's
    columns: tuple[str, ...] | None = None  # --columns, checked against the known names
    progress: str = "auto"  # "auto" (a terminal), "always" (--progress), "never" (--quiet)
    resume: bool = False
    shard: Shard | None = None
    rate_limit: float | None = None
    adaptive: bool = True  # find the server's pace from its 429/503 answers
    verbosity: int = 0  # -v: INFO, -vv: DEBUG


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


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected requests per second > 0, got {text!r}")
    return value


def _shard(text: str) -> Shard:
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
            "printed; failures are listed on stderr); 2 a usage error; 130 interrupted "
            "(Ctrl-C); 143 terminated (SIGTERM); 141 the reader of stdout left (| head). "
            "Interrupted, --resume commits what was fetched; a plain -o FILE is left as it was."
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
        "--base-url",
        metavar="URL",
        help=f"API base URL (default ${_BASE_URL_ENV}, else production)",
    )
    where.add_argument(
        "--sandbox",
        action="store_true",
        help="run against an embedded sandbox on loopback: no account needed; without a key it "
        f"uses the demo key (${API_KEY_ENV} and ${_BASE_URL_ENV} are ignored)",
    )
    where.add_argument(
        "--ca-bundle",
        metavar="PATH",
        help=f"trust the CA certificates of this PEM file or hashed directory, e.g. your "
        f"company's (default ${_CA_BUNDLE_ENV}, else $SSL_CERT_FILE/$SSL_CERT_DIR, else the "
        "system's OpenSSL paths)",
    )
    where.add_argument(
        "--proxy",
        metavar="URL",
        help="send requests through this http(s) forward proxy (default: $HTTPS_PROXY, "
        "$ALL_PROXY and $NO_PROXY, never for loopback; credentials only in the variable)",
    )
    out = paid.add_argument_group("output")
    out.add_argument(
        "--format",
        choices=FORMATS,
        help="json/jsonl: the API's own invoice records (lossless); parquet: apibricks.to_arrow's "
        "columns (needs -o and the arrow extra); table/csv: a report row per invoice. Default: "
        "from the --output suffix (.json .jsonl .ndjson .csv .parquet; another suffix needs "
        "--format), else table on a terminal, json otherwise",
    )
    out.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write here instead of stdout; written to a temporary file beside it and renamed "
        "when the run ends, so it is never half-written",
    )
    out.add_argument(
        "--columns",
        metavar="A,B,...",
        help="table/csv columns, in order: invoice fields by API name (invoiceNumber, "
        "paidDate, ...), amountUsd, or organization.FIELD (organization.country, ...)",
    )
    shown = out.add_mutually_exclusive_group()
    shown.add_argument(
        "--progress",
        action="store_true",
        help="report progress on stderr even when it is not a terminal (a line every few "
        "seconds, for CI logs and nohup)",
    )
    shown.add_argument(
        "--quiet", "-q", action="store_true", help="no progress; errors are still reported"
    )
    out.add_argument(
        "--verbose",
        "-v",
        action="count",
        default=0,
        help="log retries and requests on stderr: -v INFO, -vv DEBUG",
    )
    big = paid.add_argument_group("long runs")
    big.add_argument(
        "--resume",
        action="store_true",
        help="with -o FILE.jsonl (or -o DIR.parquet, a directory of parts): append each "
        "organization's invoices as it completes, with a ledger of finished organizations "
        "beside it (FILE.jsonl.ledger, key fingerprints only); rerun the same command to "
        "fetch only what is missing",
    )
    big.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="take only shard I of N (1 <= I <= N) of the keys, chosen by key fingerprint: "
        "N runs with 1/N .. N/N together cover every key exactly once",
    )
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
        metavar="SECONDS",
        help=f"per attempt; 0 means no limit (default {default('timeout') or 0})",
    )
    tuning.add_argument(
        "--max-retries",
        type=_whole(0),
        metavar="N",
        help=f"retries of transient failures (default {default('max_retries')})",
    )
    tuning.add_argument(
        "--rate-limit",
        type=_rate,
        metavar="R",
        help="start at most R requests per second across the whole run (default: no cap; "
        "the pace found from the server's 429/503 answers never passes it)",
    )
    tuning.add_argument(
        "--no-adaptive",
        dest="adaptive",
        action="store_false",
        help="do not slow the whole run down when the server answers 429/503 (each request "
        "still retries on its own)",
    )
    return parser


def check_url(url: str, source: str) -> str:
    """An absolute http(s) URL, and plain http only to loopback (the key would travel in clear)."""
    from yarl import URL  # not needed for --help

    from .._urls import check_base_url

    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        parsed = URL()
    shown = repr(str(parsed.with_user(None)) if parsed.host else url.split("@")[-1])
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError(
            f"{source} {shown} is not an absolute http(s) URL; use e.g. {default('base_url')}"
        )
    try:
        check_base_url(url, allow_insecure_http=False)
    except ValueError:
        raise UsageError(
            f"{source} {shown} uses plain http to a non-loopback host, so the API key would "
            "travel unencrypted; use https://"
        ) from None
    return url


def _default_format(output: Path | None, stdout: TextIO, *, columns: bool) -> str:
    if output is None:
        if stdout.isatty():
            return "table"
        return "csv" if columns else "json"  # chosen columns are a report, not a record
    suffix = output.suffix.lower()
    if suffix not in _SUFFIX_FORMATS:
        known = " ".join(_SUFFIX_FORMATS)
        what = f"suffix {output.suffix!r}" if output.suffix else "no suffix"
        raise UsageError(
            f"--output {output.name} has {what}, so its format is unknown; use one of "
            f"{known}, or say it with --format"
        )
    return _SUFFIX_FORMATS[suffix]


def _check_columns(text: str | None, format: str) -> tuple[str, ...] | None:
    if text is None:
        return None
    if format == "parquet":
        raise UsageError(
            "--columns applies to table and csv; parquet holds every column: choose them when "
            "reading, e.g. pandas.read_parquet(path, columns=[...])"
        )
    if format not in _COLUMN_FORMATS:
        each = ".[] | " if format == "json" else ""
        raise UsageError(
            f"--columns applies to table and csv; {format} holds the whole API record; "
            f"use jq to pick fields, e.g. jq -c '{each}[.invoiceNumber, .organization.country]'"
        )
    from ._columns import column_names  # the models: not needed for --help

    names = tuple(name.strip() for name in text.split(","))
    known = column_names()
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise UsageError(
            f"--columns: unknown column {', '.join(map(repr, unknown))}; valid: {', '.join(known)}"
        )
    return names


def _settings(
    args: argparse.Namespace, environ: Mapping[str, str]
) -> tuple[str | None, ClientSettings]:
    """The base URL (None: the sandbox's) and the client's settings, resolved from the flags
    and ``environ`` by the library's own `resolve`, so every default and variable agrees."""
    from .._exceptions import ConfigurationError
    from .._settings import settings_from  # attrs: not needed for --help

    keywords: dict[str, Any] = {"base_url": args.base_url}
    if args.ca_bundle is not None:
        keywords["ssl"] = args.ca_bundle
    if args.proxy is not None:
        keywords["proxy"] = _check_proxy_flag(args.proxy)
    if args.timeout is not None:
        keywords["timeout"] = args.timeout or None  # 0: no limit
    if args.max_retries is not None:
        keywords["max_retries"] = args.max_retries
    base_url = None
    if args.sandbox:  # $APIBRICKS_BASE_URL belongs to the real service: ignored
        keywords["base_url"] = _SANDBOX_PLACEHOLDER
    else:
        resolved = resolve(keywords, environ)
        source = resolved.from_env.get("base_url", "--base-url")
        base_url = keywords["base_url"] = check_url(resolved.values["base_url"], source)
    try:
        settings = settings_from(keywords, environ)
        if base_url is not None:  # what a client reads from the environment when it is made
            _check_environment(settings, environ)
    except ConfigurationError as exc:
        raise UsageError(_as_flag(str(exc), keywords)) from None
    return base_url, settings


def _check_environment(settings: ClientSettings, environ: Mapping[str, str]) -> None:
    """What a client reads from the environment when it is made (OpenSSL's trust variables,
    the proxy variables), read the same way now, so a mistake there exits 2 too."""
    from yarl import URL

    from .._env_proxy import proxy_for
    from .._tls import ssl_for_aiohttp

    url = URL(settings.base_url)
    ssl_for_aiohttp(settings.ssl, None, environ, https=url.scheme == "https")
    proxy_for(settings, url, environ)


def _check_proxy_flag(url: str) -> str:
    from yarl import URL  # not needed for --help

    try:
        credentials = URL(url).user is not None
    except (TypeError, ValueError):
        credentials = False  # ClientSettings says what is wrong with it
    if credentials:
        raise UsageError(
            "--proxy must not contain credentials (arguments show up in process lists and "
            "shell history); set HTTPS_PROXY=http://user:password@host:port instead"
        )
    return url


def _as_flag(message: str, keywords: Mapping[str, Any]) -> str:
    """A setting's error as the command line says it: ``ssl: ...`` -> ``--ca-bundle: ...``."""
    for name, flag in _FLAGS.items():
        if name in keywords and message.startswith(name) and message[len(name)] in " :=":
            return flag + message[len(name) :]
    return message


def parse_config(
    argv: Sequence[str], environ: Mapping[str, str], stdin: TextIO, stdout: TextIO
) -> Config:
    """Parse and check everything; raises `UsageError` (and SystemExit for --help/--version)."""
    args = build_parser().parse_args(argv)
    if args.api_key is not None and args.keys_file is not None:
        raise UsageError("--api-key and --keys-file exclude each other; use one of them")
    if args.sandbox and args.base_url is not None:
        raise UsageError("--sandbox and --base-url exclude each other; use one of them")

    if args.shard is not None and args.keys_file is None:
        raise UsageError("--shard splits a --keys-file; pass one")
    keys: Keys
    if args.keys_file is not None:
        keys = KeyFile(args.keys_file, stdin, args.shard)
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

    base_url, settings = _settings(args, environ)

    output = None if args.output in (None, "-") else Path(args.output)
    format = args.format or _default_format(output, stdout, columns=args.columns is not None)
    if format == "parquet":
        if output is None:
            raise UsageError("parquet is binary: write it to a file with -o FILE.parquet")
        if importlib.util.find_spec("pyarrow") is None:
            raise UsageError('parquet needs pyarrow: pip install "apibricks[arrow]"')
    if args.resume:
        if output is None:
            raise UsageError(
                "--resume needs --output FILE.jsonl (or a FILE.parquet directory): it is the "
                "run's record"
            )
        if format not in _RESUME_FORMATS:
            raise UsageError(
                f"--resume appends records as organizations finish, which {format} cannot; "
                "use -o FILE.jsonl (or -o DIR.parquet for a directory of Parquet parts)"
            )
    return Config(
        keys=keys,
        fan_out=args.keys_file is not None,
        base_url=base_url,
        sandbox=args.sandbox,
        format=format,
        output=output,
        concurrency=args.concurrency,
        settings=settings,
        columns=_check_columns(args.columns, format),
        progress="never" if args.quiet else "always" if args.progress else "auto",
        resume=args.resume,
        shard=args.shard,
        rate_limit=args.rate_limit,
        adaptive=args.adaptive,
        verbosity=args.verbose,
    )
