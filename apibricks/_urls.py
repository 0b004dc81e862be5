"""Which base URLs may carry a key, and which redirect targets may be followed.

Loopback is decided by parsing the host as an address (``ipaddress``), never by its
spelling: ``127.attacker.example`` and ``localhost.attacker.example`` are names anyone
can point anywhere.
"""

from __future__ import annotations

import ipaddress

from yarl import URL

from ._auth import SecretKey
from ._exceptions import ConfigurationError
from ._sanitize import hide

__all__ = ["check_base_url", "is_loopback", "safe_url"]


def is_loopback(host: str) -> bool:
    """True for a loopback address (``127.0.0.0/8``, ``::1``) or the name ``localhost``."""
    host = host.strip("[]").lower()
    if host.rstrip(".") == "localhost":  # RFC 6761: always the loopback interface
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    # ::ffff:127.0.0.1 reaches 127.0.0.1; Python < 3.13 does not say so by itself.
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def check_base_url(base_url: str, *, allow_insecure_http: bool) -> URL:
    """``base_url`` parsed, or `ConfigurationError`: a key never travels in clear by accident."""
    try:
        url = URL(base_url)
        host = url.host
    except (TypeError, ValueError, UnicodeError):
        url, host = None, None
    if url is None or url.scheme not in ("http", "https") or not host:
        raise ConfigurationError(
            f"base_url must be an absolute http(s) URL such as https://api.example.com, "
            f"got {safe_url(base_url)!r}."
        )
    if url.scheme == "http" and not allow_insecure_http and not is_loopback(host):
        raise ConfigurationError(
            f"Refusing plain http:// to {host}: the API key would travel unencrypted. Use "
            "https://, or pass allow_insecure_http=True if you really mean it "
            "(loopback addresses and localhost are always allowed)."
        )
    return url.with_query(None).with_fragment(None)


def safe_url(url: URL | str, secret: SecretKey | None = None) -> str:
    """The URL as it may appear in logs, hooks and errors: no userinfo, no query, and
    every echo of ``secret`` (in a path a server redirected to, even in a host name)
    hidden like one in server text."""
    try:
        parsed = URL(url) if isinstance(url, str) else url
        shown = str(parsed.with_user(None).with_query(None).with_fragment(None))
    except (TypeError, ValueError, UnicodeError):
        return "<unparsable URL>"
    return hide(shown, secret)
