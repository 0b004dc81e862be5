"""Every client setting's default and environment variables, declared once; `resolve`.

`resolve` is the one function that turns keywords and the environment into setting values,
for `AsyncClient`/`Client`, ``apibricks.dask`` and the CLI alike; `ClientSettings` then
checks them. Plain values, importable without attrs: the CLI's ``apibricks --help`` shows
these defaults and thus loads no attrs (~20 ms of a 100 ms start-up budget).

Adding a setting: a row in `SETTINGS`, a checked field in `ClientSettings` (a test holds the
two, both constructors and docs/options.md to the same names).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, NamedTuple

__all__ = [
    "NOT_GIVEN",
    "SETTINGS",
    "NotGiven",
    "Resolved",
    "Setting",
    "default",
    "env_names",
    "resolve",
]


class NotGiven:
    """The type of `NOT_GIVEN`: "leave this setting as it is" where None means something."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __reduce__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN: Final = NotGiven()


class Setting(NamedTuple):
    """One setting: its default, where the environment may set it, whose it is."""

    default: Any
    env: tuple[str, ...] = ()  # read in this order when no keyword is given; empty = unset
    pool: bool = False  # the connection pool's (fixed per client), not per call
    none_is_unset: bool = False  # the keyword None means "not given" (else None is a value)


# The single declaration of every default. Order: as `ClientSettings` lists its fields.
SETTINGS: Final[dict[str, Setting]] = {
    "base_url": Setting(
        "https://api-console.apibricks.io",
        env=("APIBRICKS_BASE_URL",),
        pool=True,
        none_is_unset=True,
    ),
    "allow_insecure_http": Setting(False, pool=True),
    "timeout": Setting(30.0),
    "max_retries": Setting(2),
    "retry_after_cap": Setting(60.0),
    "default_headers": Setting(MappingProxyType({}), none_is_unset=True),
    "max_response_bytes": Setting(256 * 2**20),
    "max_connections": Setting(100, pool=True),
    "proxy": Setting(None, pool=True),
    "proxy_auth": Setting(None, pool=True),
    "trust_env": Setting(True, pool=True),  # proxies from HTTPS_PROXY & co. (`_env_proxy`)
    # Per call: connections are pooled per trust. SSL_CERT_FILE/SSL_CERT_DIR are OpenSSL's
    # (a file and a directory, not one value): `_tls` reads them when this stays True.
    "ssl": Setting(True, env=("APIBRICKS_CA_BUNDLE",)),
}


def default(name: str) -> Any:
    """The declared default of setting ``name``, read now (so a changed declaration shows)."""
    return SETTINGS[name].default


def env_names(name: str) -> tuple[str, ...]:
    """The environment variables that may set ``name``, in the order they are read."""
    return SETTINGS[name].env


class Resolved(NamedTuple):
    """Every setting's value, and for those the environment set, which variable did."""

    values: dict[str, Any]
    from_env: dict[str, str]

    def blame(self, message: str) -> str:
        """``message`` (a check's, naming a setting first) naming the variable it came from."""
        for name, variable in self.from_env.items():
            if re.match(rf"{re.escape(name)}\b", message):
                return f"{message} (read from ${variable})"
        return message


def resolve(keywords: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Resolved:
    """Each setting: its keyword if given, else its first non-empty variable, else its default.

    ``environ`` defaults to ``os.environ``, read now. Unknown keywords are a `TypeError`.
    """
    unknown = set(keywords) - set(SETTINGS)
    if unknown:
        raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    from_env: dict[str, str] = {}
    for name, setting in SETTINGS.items():
        value = keywords.get(name, NOT_GIVEN)
        if value is None and setting.none_is_unset:
            value = NOT_GIVEN
        if value is NOT_GIVEN:
            variable = next((each for each in setting.env if environ.get(each)), None)
            if variable is not None:
                value = environ[variable]
                from_env[name] = variable
            else:
                value = setting.default
        values[name] = value
    return Resolved(values, from_env)
