"""Event hooks: the caller's callables, told about every attempt of every call.

``event_hooks={"request": [...], "response": [...], "retry": [...]}`` on the client (or
``with_options``). Each hook gets one `HookEvent` and may be a plain function or a
coroutine function. A hook that raises fails that call with its exception, unwrapped
and not retried: hooks are code, not network, and their errors are the caller's.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final, Literal

import attrs

from ._exceptions import ConfigurationError

__all__ = ["EVENTS", "EventHooks", "Hook", "HookEvent", "HookFailed", "freeze_hooks", "run_hooks"]

EVENTS: Final = ("request", "response", "retry")

EventName = Literal["request", "response", "retry"]


@attrs.frozen(kw_only=True)
class HookEvent:
    """One attempt of one call, as a hook sees it (read-only).

    Attributes:
        event: ``"request"`` (about to send), ``"response"`` (an HTTP answer arrived,
            whatever its status) or ``"retry"`` (this attempt failed; another follows).
        method: ``"GET"``.
        url: The attempt's URL, without credentials or query.
        attempt: 1 for the first attempt of the call, 2 for the first retry, ...
        key_hint: The API key as its short hint (never the key).
        status_code: The HTTP status (``response``; ``retry`` when the failure had one).
        elapsed: Seconds since this attempt started (``response`` and ``retry``).
        request_id: The server's request id, when known.
        error_type: The failure's class name (``retry`` only), e.g. ``"APITimeoutError"``.
        wait: Seconds the client sleeps before the next attempt (``retry`` only).
    """

    event: EventName
    method: str
    url: str
    attempt: int
    key_hint: str
    status_code: int | None = None
    elapsed: float | None = None
    request_id: str | None = None
    error_type: str | None = None
    wait: float | None = None


Hook = Callable[[HookEvent], Awaitable[None] | None]
EventHooks = Mapping[str, Iterable[Hook]]


class HookFailed(Exception):
    """Carries a hook's own exception past the transport's error translation."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


def freeze_hooks(hooks: EventHooks | None) -> dict[str, tuple[Hook, ...]]:
    """Validated, immutable copy: only known events, only callables."""
    if hooks is None:
        return {}
    if not isinstance(hooks, Mapping):
        raise ConfigurationError(
            'event_hooks must be a mapping like {"request": [...], "response": [...], '
            f'"retry": [...]}}, got {type(hooks).__name__}.'
        )
    frozen: dict[str, tuple[Hook, ...]] = {}
    for name, callables in hooks.items():
        if name not in EVENTS:
            raise ConfigurationError(
                f"event_hooks has an unknown event {name!r}; known events: {', '.join(EVENTS)}."
            )
        if callable(callables) or isinstance(callables, (str, bytes)):
            raise ConfigurationError(f"event_hooks[{name!r}] must be a list of callables.")
        items = tuple(callables)
        for hook in items:
            if not callable(hook):
                raise ConfigurationError(
                    f"event_hooks[{name!r}] holds {type(hook).__name__}, which is not callable."
                )
        if items:
            frozen[name] = items
    return frozen


async def run_hooks(hooks: Iterable[Hook], event: HookEvent) -> None:
    """Call each hook in order; await what they return if it is awaitable."""
    for hook in hooks:
        try:
            result: Any = hook(event)
            if inspect.isawaitable(result):
                await result
        except Exception as error:
            raise HookFailed(error) from None
