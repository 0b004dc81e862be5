"""Event hooks: one read-only `HookEvent` per attempt; a hook's exception fails the call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest

import apibricks
from apibricks import sandbox
from apibricks._auth import key_hint

Facade = Callable[..., Awaitable[Any]]
LIST_PAID = lambda client: client.invoices.list_paid()  # noqa: E731


def _recorder() -> tuple[list[apibricks.HookEvent], dict[str, list[Any]]]:
    events: list[apibricks.HookEvent] = []

    async def on_response(event: apibricks.HookEvent) -> None:  # async hooks are awaited
        await asyncio.sleep(0)
        events.append(event)

    hooks = {"request": [events.append], "response": [on_response], "retry": [events.append]}
    return events, hooks


async def test_one_event_per_attempt_in_order(
    facade: Facade, sandbox_server: sandbox.Sandbox
) -> None:
    key = "sk_sandbox_hooked_account~503r0x1"
    events, hooks = _recorder()
    await facade(LIST_PAID, api_key=key, event_hooks=hooks)
    shape = [(e.event, e.attempt, e.status_code) for e in events]
    assert shape == [
        ("request", 1, None),
        ("response", 1, 503),
        ("retry", 1, 503),
        ("request", 2, None),
        ("response", 2, 200),
    ]
    url = f"{sandbox_server.url}/invoices/paid"
    assert all(e.method == "GET" and e.url == url for e in events)
    assert all(e.key_hint == key_hint(key) for e in events)
    assert all(key not in repr(e) for e in events)
    retry = events[2]
    assert retry.error_type == "InternalServerError"
    assert retry.wait == 0.0  # the server's Retry-After: 0
    assert retry.request_id is not None and retry.request_id == events[1].request_id
    assert events[4].elapsed is not None and events[4].elapsed > 0


async def test_a_timeout_is_a_retry_event_without_status(facade: Facade) -> None:
    events, hooks = _recorder()
    await facade(
        LIST_PAID,
        api_key="sk_sandbox_hooked_slow~slow2x1",
        timeout=0.2,
        event_hooks=hooks,
    )
    retries = [e for e in events if e.event == "retry"]
    assert len(retries) == 1
    assert retries[0].error_type == "APITimeoutError" and retries[0].status_code is None


def test_the_event_is_read_only() -> None:
    event = apibricks.HookEvent(event="request", method="GET", url="u", attempt=1, key_hint="…")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.attempt = 2  # type: ignore[misc]


class HookBroke(Exception):
    pass


@pytest.mark.parametrize("event", ["request", "response", "retry"])
@pytest.mark.parametrize("raised", [HookBroke, RuntimeError, apibricks.APIConnectionError])
async def test_a_hook_that_raises_fails_the_call_with_its_exception(
    facade: Facade, sandbox_server: sandbox.Sandbox, event: str, raised: type[Exception]
) -> None:
    key = f"sk_sandbox_hook_raises_{event}_{raised.__name__}~503r0x1"
    error = raised("the hook's own failure")

    def hook(_: apibricks.HookEvent) -> None:
        raise error

    with pytest.raises(raised) as caught:
        await facade(LIST_PAID, api_key=key, event_hooks={event: [hook]})
    assert caught.value is error  # not wrapped, not swallowed
    # Not retried: the request hook stops the call before anything is sent.
    assert sandbox_server.requests_for(key) == (0 if event == "request" else 1)


async def test_view_hooks_replace_the_parents(facade: Facade) -> None:
    parent_events, parent_hooks = _recorder()
    view_events, view_hooks = _recorder()
    await facade(
        lambda client: client.with_options(event_hooks=view_hooks).invoices.list_paid(),
        api_key="sk_sandbox_hook_view",
        event_hooks=parent_hooks,
    )
    assert parent_events == []
    assert [e.event for e in view_events] == ["request", "response"]


async def test_with_api_key_views_keep_the_hooks(facade: Facade) -> None:
    events, hooks = _recorder()
    other = "sk_sandbox_hook_other_org"
    await facade(
        lambda client: client.with_api_key(other).invoices.list_paid(),
        api_key="sk_sandbox_hook_parent",
        event_hooks=hooks,
    )
    assert [e.key_hint for e in events] == [key_hint(other)] * 2
