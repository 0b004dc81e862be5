"""`ClientSettings`: every client setting, declared and validated in one place.

A settings value is frozen and picklable, so it can cross a process boundary
(``AsyncClient.from_settings(settings, api_key=...)`` on the other side). It holds
neither the API key nor the aiohttp session, and no event hooks: hooks are live,
in-process callables (closures, loggers, tracers) that often cannot be pickled, so they
are passed to the client (and to ``with_options``/``from_settings``) beside the settings.
Every bad value raises `ConfigurationError` naming the keyword and what it accepts,
before any I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

import attrs

from ._defaults import NOT_GIVEN, NotGiven, default, resolve
from ._exceptions import ConfigurationError
from ._tls import check_ssl_setting

__all__ = ["NOT_GIVEN", "ClientSettings", "Headers", "NotGiven", "settings_from"]


# RFC 9110 field-name: a token.
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Credentials have their own keywords (api_key, proxy_auth): never a plain header.
_RESERVED_HEADERS: Final = frozenset({"authorization", "proxy-authorization"})


class Headers(Mapping[str, str]):
    """An immutable, hashable, picklable mapping of extra request headers."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, str] = dict(items or {})

    def __getitem__(self, name: str) -> str:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and self._items == dict(other)

    def __repr__(self) -> str:
        return repr(self._items)

    def __reduce__(self) -> tuple[type[Headers], tuple[dict[str, str]]]:
        return (Headers, (self._items,))


def _fail(name: str, accepts: str, value: object) -> ConfigurationError:
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    return ConfigurationError(f"{name} must be {accepts}, got {shown}.")


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _seconds(*, allow_none: bool, allow_zero: bool) -> Any:
    accepts = "a finite number of seconds " + (">= 0" if allow_zero else "> 0")
    if allow_none:
        accepts += ", or None for no limit"

    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and allow_none:
            return
        if not _is_real(value) or not math.isfinite(value):  # type: ignore[arg-type]
            raise _fail(attribute.name, accepts, value)
        if value < 0 or (value == 0 and not allow_zero):  # type: ignore[operator]
            raise _fail(attribute.name, accepts, value)

    return check


def _count(*, minimum: int, none_means: str | None = None, zero_means: str | None = None) -> Any:
    accepts = f"an int >= {minimum}"
    if zero_means:
        accepts += f" (0: {zero_means})"
    if none_means:
        accepts += f", or None for {none_means}"

    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and none_means:
            return
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise _fail(attribute.name, accepts, value)

    return check


def _flag(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise _fail(attribute.name, "True or False", value)


def _to_float(value: object) -> object:
    return float(value) if _is_real(value) else value  # type: ignore[arg-type]


def _to_headers(value: object) -> object:
    if value is None:
        return Headers()
    if not isinstance(value, Mapping):
        raise _fail("default_headers", "a mapping of header names to str values", value)
    for name, text in value.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise _fail("default_headers", "keyed by HTTP header names (RFC 9110 tokens)", name)
        if name.lower() in _RESERVED_HEADERS:
            raise ConfigurationError(
                f"default_headers may not set {name}: pass the API key as api_key=... "
                "(and proxy credentials as proxy_auth=...), which are never shown or pickled."
            )
        if not isinstance(text, str):
            raise _fail(f"default_headers[{name!r}]", "a str", text)
        if any(ch in text for ch in "\r\n\0") or not text.replace("\t", " ").isprintable():
            raise ConfigurationError(
                f"default_headers[{name!r}] contains a line break or another control "
                "character; header values must be printable text."
            )
    return Headers(value)


def _to_proxy_auth(value: object) -> object:
    """``aiohttp.BasicAuth`` (a named tuple) or ``(login, password)`` -> a plain pair."""
    if value is None:
        return None
    if isinstance(value, tuple) and len(value) in (2, 3):  # BasicAuth has an encoding too
        login, password = value[0], value[1]
        if (
            isinstance(login, str)
            and isinstance(password, str)
            and ":" not in login
            and not any(ch in login + password for ch in "\r\n\0")
        ):
            return (login, password)
    raise ConfigurationError(
        "proxy_auth must be aiohttp.BasicAuth or a (login, password) pair of str "
        "(no ':' in the login, no line breaks)."
    )


def _check_base_url(settings: ClientSettings, _: attrs.Attribute[Any], value: object) -> None:
    from yarl import URL

    from ._urls import check_base_url

    if not isinstance(value, str):
        raise _fail("base_url", "an absolute http(s) URL as a str", value)
    try:
        url = URL(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"base_url is not a valid URL: {exc}") from None
    if url.user is not None or url.password is not None:
        raise ConfigurationError(
            "base_url must not contain credentials (user:password@): they would show in "
            "reprs and logs. Authenticate with api_key=... instead."
        )
    try:
        check_base_url(value, allow_insecure_http=settings.allow_insecure_http)
    except ConfigurationError:
        raise
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def _check_proxy(settings: ClientSettings, _: attrs.Attribute[Any], value: object) -> None:
    from yarl import URL

    if value is None:
        return
    accepts = "an absolute http(s) URL of a forward proxy as a str, or None"
    if not isinstance(value, str):
        raise _fail("proxy", accepts, value)
    try:
        url = URL(value)
    except (TypeError, ValueError):
        raise _fail("proxy", accepts, "<unparsable URL>") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise _fail("proxy", accepts, "<not an absolute http(s) URL>")
    if url.user is not None or url.password is not None:
        raise ConfigurationError(
            "proxy must not contain credentials (user:password@): pass them as "
            "proxy_auth=(login, password), which is never shown in reprs."
        )


def _check_proxy_auth(settings: ClientSettings, _: attrs.Attribute[Any], value: object) -> None:
    if value is not None and settings.proxy is None:
        raise ConfigurationError("proxy_auth needs proxy=...: there is no proxy to send it to.")


def _proxy_auth_repr(value: tuple[str, str] | None) -> str:
    return "None" if value is None else f"({value[0]!r}, '***')"


def _declared(name: str) -> Any:
    """The default of field ``name``: `SETTINGS`' row, read at each construction."""
    return attrs.Factory(lambda: default(name))


@attrs.frozen(kw_only=True)
class ClientSettings:
    """Everything that configures a client except its API key, session and event hooks.

    ``client.settings`` returns one; ``AsyncClient.from_settings(settings, api_key=...)``
    (or ``Client.from_settings``) builds a client from it, e.g. in another process.
    ``attrs.evolve(settings, timeout=5)`` makes a changed copy, validated again.
    ``ClientSettings()`` holds the declared defaults and reads no environment;
    `settings_from` also reads it, as the clients do.

    Pool settings (``base_url``, ``max_connections``, ``proxy``, ``proxy_auth``,
    ``trust_env``, ``allow_insecure_http``) belong to the connection pool; the others are
    per call and may differ between views made with ``client.with_options(...)``, ``ssl``
    included (connections are pooled per trust). ``ssl`` holds no `ssl.SSLContext` (it does
    not pickle): a client given one records ``"context"`` and keeps the context itself.
    """

    # Defaults: `_defaults.SETTINGS`. attrs runs validators once every field is set, so
    # they may read each other.
    base_url: str = attrs.field(default=_declared("base_url"), validator=_check_base_url)
    allow_insecure_http: bool = attrs.field(
        default=_declared("allow_insecure_http"), validator=_flag
    )
    timeout: float | None = attrs.field(
        default=_declared("timeout"),
        converter=_to_float,
        validator=_seconds(allow_none=True, allow_zero=False),
    )
    max_retries: int = attrs.field(default=_declared("max_retries"), validator=_count(minimum=0))
    retry_after_cap: float = attrs.field(
        default=_declared("retry_after_cap"),
        converter=_to_float,
        validator=_seconds(allow_none=False, allow_zero=True),
    )
    default_headers: Headers = attrs.field(
        default=_declared("default_headers"), converter=_to_headers
    )
    max_response_bytes: int | None = attrs.field(
        default=_declared("max_response_bytes"),
        validator=_count(minimum=1, none_means="no limit"),
    )
    max_connections: int = attrs.field(
        default=_declared("max_connections"), validator=_count(minimum=0, zero_means="unlimited")
    )
    proxy: str | None = attrs.field(default=_declared("proxy"), validator=_check_proxy)
    proxy_auth: tuple[str, str] | None = attrs.field(
        default=_declared("proxy_auth"),
        converter=_to_proxy_auth,
        validator=_check_proxy_auth,
        repr=_proxy_auth_repr,
    )
    trust_env: bool = attrs.field(default=_declared("trust_env"), validator=_flag)
    # True, "system", a checked absolute path, or "context" (the client holds an SSLContext).
    ssl: bool | str = attrs.field(default=_declared("ssl"), converter=check_ssl_setting)


def settings_from(
    keywords: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> ClientSettings:
    """Checked settings from keywords and the environment (`resolve`), as every entry point
    builds them; a bad value taken from a variable is a `ConfigurationError` naming it."""
    resolved = resolve(keywords or {}, environ)
    try:
        return ClientSettings(**resolved.values)
    except ConfigurationError as exc:
        raise ConfigurationError(resolved.blame(str(exc))) from None
