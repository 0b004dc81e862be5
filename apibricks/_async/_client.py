"""`AsyncClient`: the asyncio entry point; every other facade is built on it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import aiohttp
import attrs

from .._auth import SecretKey, hide_key, key_hint, missing_key_error, resolve_api_key, secret_key
from .._exceptions import ConfigurationError
from .._hooks import EventHooks, freeze_hooks
from .._models import Invoice
from .._outcome import Outcome, PaidInvoicesReport, Progress
from .._settings import NOT_GIVEN, ClientSettings, NotGiven, settings_from
from .._tls import split_ssl, ssl_for_aiohttp
from . import _fan_out
from ._pacing import Lane
from ._resources import AsyncInvoices
from ._transport import CallOptions, Reply, Transport

__all__ = ["AsyncClient"]

if TYPE_CHECKING:
    from ssl import SSLContext

    from .._tls import SSLSetting

T = TypeVar("T")


def _list_paid(org: AsyncClient) -> Awaitable[list[Invoice]]:
    return org.invoices.list_paid()


class AsyncClient:
    """Client for the APIBricks Console REST API.

    Use it as ``async with AsyncClient() as client:`` (or call `close`). The aiohttp
    session is created lazily inside the running loop. ``with_api_key`` and
    ``with_options`` give cheap views that share this client's connection pool.
    Every setting but the key, the session and the hooks is ``client.settings``, a
    picklable `ClientSettings`; a bad value raises `ConfigurationError` here. A setting
    left out takes its environment variable, if it has one, else its default: both are
    declared once, for every entry point (docs/options.md lists them).

    Args:
        api_key: The organization's API key; defaults to ``$APIBRICKS_API_KEY``. May be
            left unset on a client used only through ``with_api_key`` / ``fan_out``.
        base_url: Defaults to ``$APIBRICKS_BASE_URL``, else production. A path prefix is kept.
        timeout: Seconds allowed per attempt (None: no limit).
        max_retries: Retries after the first attempt for retryable failures.
        default_headers: Extra headers sent with every request.
        max_connections: Size of the connection pool (0: unlimited).
        retry_after_cap: A 429 asking to wait longer than this many seconds is raised
            at once as `RateLimitError` instead of slept on.
        max_response_bytes: Largest response body accepted, counted decompressed; a
            larger one raises `ResponseTooLargeError` (None: no limit).
        allow_insecure_http: Permit ``http://`` to a host other than loopback.
        proxy: A forward proxy URL (``http://host:port``) for every request.
        proxy_auth: ``aiohttp.BasicAuth`` or ``(login, password)`` for ``proxy``.
        trust_env: Honour ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``/``NO_PROXY``, read
            now; never for a loopback base URL; ``proxy`` wins over them.
        ssl: Whom to trust: a path to a PEM CA bundle or a hashed CA directory (default
            ``$APIBRICKS_CA_BUNDLE``), True (``$SSL_CERT_FILE``/``$SSL_CERT_DIR``, else
            OpenSSL's default paths), ``"system"`` (the OS trust store,
            ``apibricks[truststore]``) or an ``ssl.SSLContext`` (e.g. a client
            certificate). False is refused.
        event_hooks: ``{"request": [...], "response": [...], "retry": [...]}``:
            callables (sync or async) given a `HookEvent` per attempt.
        session: An aiohttp session to use instead of creating one; it stays yours to close.
    """

    invoices: AsyncInvoices

    def __init__(
        self,
        *,
        api_key: str | SecretKey | None = None,
        base_url: str | None = None,
        timeout: float | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
        max_connections: int | NotGiven = NOT_GIVEN,
        retry_after_cap: float | NotGiven = NOT_GIVEN,
        max_response_bytes: int | NotGiven | None = NOT_GIVEN,
        allow_insecure_http: bool | NotGiven = NOT_GIVEN,
        proxy: str | NotGiven | None = NOT_GIVEN,
        proxy_auth: aiohttp.BasicAuth | tuple[str, str] | NotGiven | None = NOT_GIVEN,
        trust_env: bool | NotGiven = NOT_GIVEN,
        ssl: SSLSetting | NotGiven = NOT_GIVEN,
        event_hooks: EventHooks | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        secret = hide_key(api_key)
        del api_key  # crash reporters print every frame's locals: keep only the hint
        ssl_setting, ssl_context = split_ssl(ssl)
        settings = settings_from(
            {
                "base_url": base_url,
                "timeout": timeout,
                "max_retries": max_retries,
                "default_headers": default_headers,
                "max_connections": max_connections,
                "retry_after_cap": retry_after_cap,
                "max_response_bytes": max_response_bytes,
                "allow_insecure_http": allow_insecure_http,
                "proxy": proxy,
                "proxy_auth": proxy_auth,
                "trust_env": trust_env,
                "ssl": ssl_setting,
            }
        )
        self._setup(
            settings, api_key=secret, event_hooks=event_hooks, session=session, ssl=ssl_context
        )

    @classmethod
    def from_settings(
        cls,
        settings: ClientSettings,
        *,
        api_key: str | SecretKey | None = None,
        event_hooks: EventHooks | None = None,
        session: aiohttp.ClientSession | None = None,
        ssl: SSLContext | None = None,
    ) -> AsyncClient:
        """A client built from ``settings`` (e.g. another process's ``client.settings``).

        The key is passed apart (it is never in settings; default ``$APIBRICKS_API_KEY``),
        and so are event hooks, which are live callables rather than settings, and an
        ``ssl.SSLContext`` (settings record ``ssl="context"`` for one; pass it again here).
        """
        secret = hide_key(api_key)
        del api_key  # crash reporters print every frame's locals: keep only the hint
        if not isinstance(settings, ClientSettings):
            raise ConfigurationError(
                f"settings must be an apibricks.ClientSettings, got {type(settings).__name__}."
            )
        client = cls.__new__(cls)
        client._setup(settings, api_key=secret, event_hooks=event_hooks, session=session, ssl=ssl)
        return client

    def _setup(
        self,
        settings: ClientSettings,
        *,
        api_key: SecretKey | None,
        event_hooks: EventHooks | None,
        session: aiohttp.ClientSession | None,
        ssl: SSLContext | None,
    ) -> None:
        hooks = freeze_hooks(event_hooks)
        self._api_key = resolve_api_key(api_key)
        self._transport = Transport(settings, session=session)
        self._is_view = False
        self._settings = settings
        self._options = CallOptions(settings, hooks, self._trust(settings, ssl))
        self._lane: Lane | None = None
        self.invoices = AsyncInvoices(self._get)

    def _view(
        self,
        api_key: SecretKey | None,
        settings: ClientSettings,
        options: CallOptions,
        lane: Lane | None = None,
    ) -> AsyncClient:
        view = object.__new__(AsyncClient)
        view._transport = self._transport
        view._api_key = api_key
        view._is_view = True
        view._settings = settings
        view._options = options
        view._lane = lane  # a fan-out's pace, for its key's view and views made from it
        view.invoices = AsyncInvoices(view._get)
        return view

    def with_api_key(self, api_key: str | SecretKey) -> AsyncClient:
        """A view of this client for another organization: same pool, same settings.

        Views are cheap (no session, no I/O) and need no closing; closing the client
        they came from closes their pool.
        """
        secret = hide_key(api_key)
        del api_key  # crash reporters print every frame's locals: keep only the hint
        return self._view(secret_key(secret), self._settings, self._options)

    def with_options(
        self,
        *,
        timeout: float | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry_after_cap: float | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        max_response_bytes: int | NotGiven | None = NOT_GIVEN,
        ssl: SSLSetting | NotGiven = NOT_GIVEN,
        event_hooks: EventHooks | NotGiven = NOT_GIVEN,
    ) -> AsyncClient:
        """A view with some per-call settings changed: same pool, same key.

        Cheap like `with_api_key` (and chainable with it in either order); only what is
        given changes. ``default_headers`` are merged over this client's; ``event_hooks``
        replace its hooks; ``ssl`` (as for the constructor) gets connections of its own.
        Pool settings (``base_url``, ``proxy``, ``max_connections``...) belong to the
        client that owns the pool. Bad values raise `ConfigurationError`.
        """
        changes: dict[str, Any] = {
            name: value
            for name, value in (
                ("timeout", timeout),
                ("max_retries", max_retries),
                ("retry_after_cap", retry_after_cap),
                ("max_response_bytes", max_response_bytes),
            )
            if value is not NOT_GIVEN
        }
        if not isinstance(default_headers, NotGiven):
            if not isinstance(default_headers, Mapping):
                raise ConfigurationError(
                    "default_headers must be a mapping of header names to str values, "
                    f"got {type(default_headers).__name__}."
                )
            changes["default_headers"] = {**self._settings.default_headers, **default_headers}
        context = None
        if not isinstance(ssl, NotGiven):
            changes["ssl"], context = split_ssl(ssl)
        settings = attrs.evolve(self._settings, **changes)
        trust = self._options.ssl if "ssl" not in changes else self._trust(settings, context)
        hooks = (
            self._options.hooks if isinstance(event_hooks, NotGiven) else freeze_hooks(event_hooks)
        )
        return self._view(self._api_key, settings, CallOptions(settings, hooks, trust), self._lane)

    def _trust(self, settings: ClientSettings, context: SSLContext | None) -> SSLContext | bool:
        """``settings.ssl`` as aiohttp takes it, with SSL_CERT_FILE/SSL_CERT_DIR read now."""
        https = self._transport.base_url.scheme == "https"
        return ssl_for_aiohttp(settings.ssl, context, os.environ, https=https)

    async def fan_out(
        self,
        keys: Iterable[str],
        operation: Callable[[AsyncClient], Awaitable[T]],
        *,
        concurrency: int = 32,
        rate_limit: float | None = None,
        adaptive: bool = True,
        on_progress: Callable[[Progress], object] | None = None,
    ) -> AsyncGenerator[Outcome[T], None]:
        """Run ``operation`` for every key, at most ``concurrency`` at once; stream the outcomes.

        ``operation`` gets ``self.with_api_key(key)`` (e.g. ``lambda org:
        org.invoices.list_paid()``); all keys share this client's connection pool, retries
        and timeouts. Exactly one `Outcome` per input position (duplicates included) is
        yielded, in completion order; a failure, an invalid key included, is that key's
        outcome and never stops the others. Keys may be any iterable, pulled only as
        slots free up. A ``concurrency`` above the pool's ``max_connections`` is a
        ``ValueError`` rather than a silently lower bound.

        Args:
            keys: One API key per organization.
            operation: Called with each organization's view; its result is the outcome's
                value. An exception other than `APIBricksError` becomes `OperationError`.
            concurrency: Operations in flight at most (and at least, while keys remain).
            rate_limit: Requests per second at most across all keys, retries included
                (None: no limit). The adaptive pace never passes it.
            adaptive: Find the server's pace: a 429/503 slows the whole fan-out down
                (multiplicatively), successes speed it up again (additively), and a
                ``Retry-After`` pauses every new request until then. False: only
                ``rate_limit`` paces. See docs/rate-limits.md.
            on_progress: Called with a `Progress` before each outcome is yielded.

        Leaving the loop early cancels the requests in flight; use
        ``async with contextlib.aclosing(client.fan_out(...)) as outcomes:`` so that
        happens at once rather than when the generator is garbage-collected.
        """
        outcomes = _fan_out.fan_out(
            self._transport,
            self._key_view,
            keys,
            operation,
            retry_after_cap=self._settings.retry_after_cap,
            concurrency=concurrency,
            rate_limit=rate_limit,
            adaptive=adaptive,
            on_progress=on_progress,
        )
        del keys  # the engine holds them, wrapped; crash reporters print this frame's locals
        async with contextlib.aclosing(outcomes):
            async for outcome in outcomes:
                yield outcome

    async def paid_invoices_by_organization(
        self,
        keys: Iterable[str],
        *,
        concurrency: int = 32,
        rate_limit: float | None = None,
        adaptive: bool = True,
        on_progress: Callable[[Progress], object] | None = None,
    ) -> PaidInvoicesReport:
        """All paid invoices of every key's organization, in one report.

        One entry per key in input order (organization, invoices, total, or the error),
        overall totals that count each invoice once, ``.failures`` and ``.ok``. Arguments
        as for `fan_out`.
        """
        outcomes = self.fan_out(
            keys,
            _list_paid,
            concurrency=concurrency,
            rate_limit=rate_limit,
            adaptive=adaptive,
            on_progress=on_progress,
        )
        del keys  # the engine holds them, wrapped; crash reporters print this frame's locals
        return await _fan_out.paid_invoices_report(outcomes)

    def _key_view(self, api_key: SecretKey, lane: Lane) -> AsyncClient:
        """A fan-out's view for one key: its requests (and those of views made from it
        with `with_options`) keep ``lane``'s pace; `APIKeyError` for an unusable key."""
        return self._view(secret_key(api_key), self._settings, self._options, lane)

    @property
    def settings(self) -> ClientSettings:
        """Every setting of this client (or view) but the key, session and hooks."""
        return self._settings

    @property
    def base_url(self) -> str:
        return str(self._transport.base_url)

    @property
    def timeout(self) -> float | None:
        return self._settings.timeout

    @property
    def max_retries(self) -> int:
        return self._settings.max_retries

    @property
    def is_closed(self) -> bool:
        return self._transport.closed

    async def close(self) -> None:
        """Close the connection pool (a view leaves its parent's pool open)."""
        if not self._is_view:
            await self._transport.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        # Also for a half-built client (its __init__ raised), as crash reporters repr locals.
        transport = getattr(self, "_transport", None)
        if transport is None:
            return f"<{type(self).__name__} (not initialized)>"
        api_key = getattr(self, "_api_key", None)
        key = key_hint(api_key) if api_key else None
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={key!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            "An apibricks client cannot be pickled or copied: it holds a connection pool "
            "and an API key. Pass client.settings (a picklable ClientSettings) and rebuild "
            "it with AsyncClient.from_settings(settings, api_key=...) or "
            "Client.from_settings(settings, api_key=...) on the other side."
        )

    async def _get(self, path: str, *, streamed: bool = False) -> Reply:
        if self._api_key is None:
            raise missing_key_error()
        return await self._transport.get(
            path, self._api_key, self._options, self._lane, streamed=streamed
        )
