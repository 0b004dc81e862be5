"""The forward proxy the environment names for a base URL, decided once when a client is made.

``trust_env=True`` (the default, as in httpx and requests) honours ``HTTPS_PROXY``,
``HTTP_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` (lower-case spellings first, as curl reads
them). A client talks to one origin (redirects never leave it), so the answer is computed
once here rather than per request as aiohttp's ``trust_env`` does (a thread hop and a
``.netrc`` read per request, and a ``.netrc`` login would clash with the key). A loopback
base URL (the sandbox) never goes through an environment proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from yarl import URL

from ._exceptions import ConfigurationError
from ._urls import is_loopback

if TYPE_CHECKING:
    from ._settings import ClientSettings

__all__ = ["EnvProxy", "bypasses", "env_proxy", "proxy_for"]


class EnvProxy(NamedTuple):
    url: str  # without credentials
    auth: tuple[str, str] | None
    variable: str  # which variable named it, for errors


def proxy_for(
    settings: ClientSettings, base_url: URL, environ: Mapping[str, str]
) -> tuple[str | None, tuple[str, str] | None]:
    """The proxy a client uses and its credentials: ``proxy=``, else the environment's."""
    if settings.proxy is None and settings.trust_env:
        found = env_proxy(base_url, environ)
        if found is not None:
            return found.url, found.auth
    return settings.proxy, settings.proxy_auth


def env_proxy(base_url: URL, environ: Mapping[str, str]) -> EnvProxy | None:
    """The proxy for ``base_url`` per the environment, or None (none set, bypassed, loopback)."""
    host = base_url.host
    if host is None or is_loopback(host):
        return None
    found = _lookup(base_url.scheme, environ) or _lookup("all", environ)
    if found is None:
        return None
    variable, value = found
    no_proxy = _lookup("no", environ)
    if no_proxy is not None and bypasses(host, base_url.port, no_proxy[1]):
        return None
    return _parse(variable, value)


def bypasses(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` exempts ``host``: ``*``, a domain and its subdomains (a leading
    dot or not), an exact ``host:port``, an IP address or a CIDR block."""
    host = host.strip("[]").rstrip(".").lower()
    address = _address(host)
    for entry in no_proxy.replace(" ", ",").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, entry_port = _split_port(entry)
        if entry_port is not None and entry_port != port:
            continue
        name = name.strip("[]").lstrip(".").rstrip(".")
        if address is not None:
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        if host == name or host.endswith("." + name):
            return True
    return False


def _lookup(scheme: str, environ: Mapping[str, str]) -> tuple[str, str] | None:
    lower = f"{scheme}_proxy"
    names = [lower, lower.upper()]
    if scheme == "http" and "REQUEST_METHOD" in environ:
        names.pop()  # in a CGI script a client's "Proxy:" header arrives as HTTP_PROXY
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return name, value
    return None


def _parse(variable: str, value: str) -> EnvProxy:
    text = value if "://" in value else "http://" + value  # curl's reading of host:port
    try:
        url = URL(text)
        host = url.host
    except (TypeError, ValueError, UnicodeError):
        url, host = None, None
    if url is None or not host:
        raise ConfigurationError(
            f"{variable} is not a proxy URL such as http://proxy.example:3128; fix it, or pass "
            "proxy=... (or trust_env=False) to the client."
        )
    if url.scheme not in ("http", "https"):
        raise ConfigurationError(
            f"{variable} names a {url.scheme}:// proxy, which apibricks cannot speak (only "
            "http:// and https:// forward proxies); pass proxy='http://...' or "
            "trust_env=False to the client."
        )
    auth = None
    if url.user is not None:
        auth = (url.user, url.password or "")
    bare = url.with_user(None).with_path("").with_query(None).with_fragment(None)
    return EnvProxy(str(bare), auth, variable)


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("[") and "]:" in entry:  # [::1]:8080
        name, _, port = entry.rpartition(":")
    elif entry.count(":") == 1:
        name, _, port = entry.partition(":")
    else:
        return entry, None
    return (name, int(port)) if port.isdigit() else (entry, None)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
