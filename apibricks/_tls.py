"""Which certificates a client trusts: ``ssl=`` and the environment, as aiohttp's ``ssl``.

Companies put their own certificate authority in front of the internet (a TLS-inspecting
proxy); a user there must be able to say "trust this CA" in one keyword, one variable or
one CLI option, and learn at construction, not at the first request, that the file is wrong.

- ``True`` (the default unless ``$APIBRICKS_CA_BUNDLE`` names a path): ``$SSL_CERT_FILE``/
  ``$SSL_CERT_DIR`` (read now, not when the interpreter started), else OpenSSL's default
  paths, the platform's CA store that company IT extends. Not certifi: its frozen copy of
  Mozilla's list cannot know a company CA.
- a path: a PEM bundle file, or a hashed CA directory (``openssl rehash``);
- ``"system"``: the operating system's store through ``truststore`` (``apibricks[truststore]``);
- an ``ssl.SSLContext``: the caller's, as is (client certificates, pinning, or no checks at all).

``False`` is refused: turning verification off takes a context built that way on purpose.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Union

from ._exceptions import CertificateError, ConfigurationError

if TYPE_CHECKING:
    import ssl

__all__ = [
    "CONTEXT",
    "SYSTEM",
    "SSLSetting",
    "certificate_error",
    "check_context",
    "check_ssl_setting",
    "split_ssl",
    "ssl_for_aiohttp",
]

SYSTEM: Final = "system"
# What a ClientSettings records for a client given an ssl.SSLContext: the context stays
# with the client (it does not pickle), and from_settings asks for it again.
CONTEXT: Final = "context"
TRUSTSTORE_EXTRA: Final = 'pip install "apibricks[truststore]"'

SSLSetting = Union[bool, str, "os.PathLike[str]", "ssl.SSLContext"]

_ACCEPTS: Final = (
    "True, a path to a PEM CA bundle or a hashed CA directory, 'system', or an ssl.SSLContext"
)
_HOW_TO_TRUST: Final = (
    "If your network has its own certificate authority (e.g. a company proxy that inspects "
    "TLS), pass its CA bundle: ssl='/path/to/ca.pem' (or APIBRICKS_CA_BUNDLE=/path/to/ca.pem; "
    "on the command line --ca-bundle /path/to/ca.pem), or ssl='system' to trust what the "
    f"operating system trusts ({TRUSTSTORE_EXTRA})."
)
# What `openssl rehash` names a certificate's link: its subject hash, a dot, a counter.
_HASHED_NAME: Final = re.compile(r"[0-9a-fA-F]{8}\.[0-9]+")
_PEM_CERTIFICATE: Final = b"-----BEGIN CERTIFICATE-----"


def check_ssl_setting(value: object) -> bool | str:
    """``ssl=`` as `ClientSettings` holds it: True, ``"system"``, `CONTEXT` or a checked path.

    A path is read now, so a missing, unreadable or non-PEM file fails at construction.
    """
    if value is True:
        return True
    if value is False:
        raise ConfigurationError(
            "ssl=False is refused: it would turn certificate checks off by accident. To trust "
            "a private CA pass ssl='/path/to/ca.pem'; to really skip verification, pass an "
            "ssl.SSLContext built to do so."
        )
    if _is_context(value):
        raise ConfigurationError(
            "ClientSettings cannot hold an ssl.SSLContext: settings must pickle (to travel to "
            "other processes) and a context does not. Pass the context to the client instead: "
            "AsyncClient(ssl=context), client.with_options(ssl=context) or "
            "AsyncClient.from_settings(settings, ssl=context)."
        )
    if value in (SYSTEM, CONTEXT):
        if value == SYSTEM:
            _truststore()
        return str(value)
    if isinstance(value, (str, os.PathLike)):
        path = os.fsdecode(value)
        if not path:
            raise ConfigurationError(f"ssl must be {_ACCEPTS}, got ''.")
        path = os.path.abspath(path)  # a worker given these settings reads the same file
        _trust_from(cafile=path, source="ssl")
        return path
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    raise ConfigurationError(f"ssl must be {_ACCEPTS}, got {shown}.")


def split_ssl(value: object) -> tuple[object, ssl.SSLContext | None]:
    """A client's ``ssl=`` as (what its settings record, the live context if one was given)."""
    if _is_context(value):
        return CONTEXT, check_context(value)
    return value, None


def check_context(value: object) -> ssl.SSLContext:
    """A caller's context, if it can verify servers at all (a server-side one cannot)."""
    import ssl

    if not isinstance(value, ssl.SSLContext):
        raise ConfigurationError(f"ssl must be {_ACCEPTS}, got {type(value).__name__}.")
    if value.protocol == ssl.PROTOCOL_TLS_SERVER:
        raise ConfigurationError(
            "ssl is a server-side SSLContext (PROTOCOL_TLS_SERVER); a client needs one made with "
            "ssl.create_default_context() or ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)."
        )
    return value


def ssl_for_aiohttp(
    setting: bool | str,
    context: ssl.SSLContext | None,
    environ: Mapping[str, str],
    *,
    https: bool,
) -> ssl.SSLContext | bool:
    """What ``session.get(ssl=...)`` gets: a context, or True for aiohttp's own default.

    OpenSSL's variables count only for ``setting=True`` and an https base URL (a loopback
    sandbox over plain http needs no trust, so one left stale does not break it).
    ``$APIBRICKS_CA_BUNDLE`` is the setting's own default (see `_defaults.SETTINGS`).
    """
    if context is not None:
        return check_context(context)
    if setting == CONTEXT:
        raise ConfigurationError(
            "These settings come from a client given an ssl.SSLContext, which does not travel "
            "with settings; pass it again: from_settings(settings, api_key=..., ssl=context)."
        )
    if setting == SYSTEM:
        return _system_context()
    if isinstance(setting, str):
        return _trust_from(cafile=setting, source="ssl")
    if not https:
        return True
    cafile, capath = environ.get("SSL_CERT_FILE"), environ.get("SSL_CERT_DIR")
    if cafile or capath:
        return _openssl_defaults_with(cafile or None, capath or None)
    # aiohttp's context: ssl.create_default_context(), OpenSSL's default paths, loaded once.
    return True


def certificate_error(exc: BaseException) -> CertificateError:
    """aiohttp's certificate failure as a `CertificateError` saying how to fix it."""
    cause = getattr(exc, "certificate_error", exc)
    reason = getattr(cause, "verify_message", None) or getattr(cause, "reason", None) or str(cause)
    return CertificateError(
        f"The server's TLS certificate was not trusted ({reason}). " + _HOW_TO_TRUST
    )


def _is_context(value: object) -> bool:
    ssl = sys.modules.get("ssl")  # not loaded yet: the value cannot be a context
    return ssl is not None and isinstance(value, ssl.SSLContext)


def _truststore() -> Any:
    try:
        import truststore
    except ImportError:
        raise ConfigurationError(
            f"ssl='system' uses the operating system's trust store through truststore, "
            f"which is not installed: {TRUSTSTORE_EXTRA}."
        ) from None
    return truststore


def _system_context() -> ssl.SSLContext:
    import ssl

    context: ssl.SSLContext = _truststore().SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_alpn_protocols(["http/1.1"])
    return context


def _openssl_defaults_with(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    """OpenSSL's own rule: ``SSL_CERT_FILE`` replaces the default file, ``SSL_CERT_DIR``
    the default directory; each default still counts where its variable is unset."""
    import ssl

    defaults = ssl.get_default_verify_paths()
    file = dir = None
    if cafile is not None:
        file = _signature(os.path.abspath(cafile), "SSL_CERT_FILE")
    elif defaults.cafile:
        file = _signature(defaults.cafile, "OpenSSL's default CA file")
    if capath is not None:
        capath = os.path.abspath(capath)
        _check_hashed_directory(capath, "SSL_CERT_DIR")
        dir = _signature(capath, "SSL_CERT_DIR")
    elif defaults.capath:
        dir = _signature(defaults.capath, "OpenSSL's default CA directory")
    return _load(file, dir, "SSL_CERT_FILE" if cafile is not None else "OpenSSL's default CA file")


def _trust_from(*, cafile: str, source: str) -> ssl.SSLContext:
    """A verifying context trusting exactly ``cafile`` (a PEM file or a hashed directory)."""
    if os.path.isdir(cafile):
        _check_hashed_directory(cafile, source)
        return _load(None, _signature(cafile, source), source)
    return _load(_signature(cafile, source), None, source)


Signature = tuple[str, int, int, int]


def _signature(path: str, source: str) -> Signature:
    """What identifies a file's content for the cache: a changed file is read again."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise _unreadable(path, source, exc) from None
    return (path, stat.st_mtime_ns, stat.st_size, stat.st_ino)


@lru_cache(maxsize=32)
def _load(cafile: Signature | None, capath: Signature | None, source: str) -> ssl.SSLContext:
    """One context per bundle: views and clients with the same trust share pooled connections.

    ``source`` names the bundle in errors (the keyword or the variable it came from).
    """
    import ssl

    cadata = None if cafile is None else _read_pem(cafile[0], source)
    try:
        # Given a location, create_default_context loads nothing else: exactly this trust.
        context = ssl.create_default_context(capath=capath[0] if capath else None, cadata=cadata)
    except ssl.SSLError as exc:
        assert cafile is not None  # a directory is read at handshakes, not here
        raise _not_pem(cafile[0], source, f"OpenSSL cannot read it: {exc.reason}") from None
    context.set_alpn_protocols(["http/1.1"])
    return context


def _read_pem(path: str, source: str) -> str:
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise _unreadable(path, source, exc) from None
    if _PEM_CERTIFICATE not in data:
        raise _not_pem(path, source, "it holds no -----BEGIN CERTIFICATE----- block")
    return data.decode("ascii", errors="replace")  # comments may be UTF-8; PEM is ASCII


def _check_hashed_directory(path: str, source: str) -> None:
    try:
        names = sorted(name for name in os.listdir(path) if _HASHED_NAME.fullmatch(name))
    except OSError as exc:
        raise _unreadable(path, source, exc) from None
    if not names:
        raise ConfigurationError(
            f"{source}: the directory {path!r} holds no hashed certificates (files named like "
            "1a2b3c4d.0); run `openssl rehash` on it, or pass a PEM CA bundle file instead."
        )
    _read_pem(os.path.join(path, names[0]), source)  # a sample: not a directory of junk


def _unreadable(path: str, source: str, exc: OSError) -> ConfigurationError:
    why = exc.strerror or type(exc).__name__
    return ConfigurationError(
        f"{source}: cannot read the CA bundle {path!r} ({why}); pass the path of a PEM CA "
        "bundle file or of a hashed CA directory."
    )


def _not_pem(path: str, source: str, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"{source}: {path!r} is not a PEM CA bundle ({why}); it should hold -----BEGIN "
        "CERTIFICATE----- blocks, e.g. as exported by `openssl x509 -outform PEM`."
    )
