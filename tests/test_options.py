"""``with_options``: a cheap view with its own per-call settings, on the parent's pool and key."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import apibricks
from apibricks import sandbox

Facade = Callable[..., Awaitable[Any]]
KEY = "sk_sandbox_options"


@pytest.mark.parametrize("client_class", [apibricks.AsyncClient, apibricks.Client])
def test_a_view_changes_only_what_is_given(client_class: type[Any]) -> None:
    client = client_class(api_key=KEY, timeout=9, retry_after_cap=5)
    view = client.with_options(timeout=4, max_retries=0)
    parent, changed = client.settings, view.settings
    assert (parent.timeout, parent.max_retries) == (9.0, 2)
    assert (changed.timeout, changed.max_retries, changed.retry_after_cap) == (4.0, 0, 5.0)
    assert changed.base_url == parent.base_url
    assert view.timeout == 4.0 and view.max_retries == 0
    assert repr(view) == repr(client)  # same key hint, same base URL
    if isinstance(client, apibricks.Client):
        client.close()


async def test_view_timeout_applies_to_the_view_only(
    facade: Facade, sandbox_server: sandbox.Sandbox
) -> None:
    key = "sk_sandbox_opt_slow~slow0.6"

    async def run(client: Any) -> None:
        with pytest.raises(apibricks.APITimeoutError):
            await _maybe(client.with_options(timeout=0.1, max_retries=0).invoices.list_paid())
        assert await _maybe(client.invoices.list_paid())  # parent: timeout 30 s

    if facade.kind == "async":  # type: ignore[attr-defined]
        await facade(run, api_key=key)
    else:
        await facade(lambda client: _sync_run(run, client), api_key=key)
    assert sandbox_server.requests_for(key) == 2


def _sync_run(run: Callable[[Any], Awaitable[None]], client: Any) -> None:
    """Drive an async-style scenario against a sync client (its calls return values)."""
    coroutine = run(client)
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise AssertionError("the scenario awaited something that was not a sync result")


async def _maybe(value: Any) -> Any:
    """Await a coroutine (async facade) or pass a sync facade's value through."""
    if hasattr(value, "__await__"):
        return await value
    return value


async def test_view_max_retries_and_retry_after_cap(
    facade: Facade, sandbox_server: sandbox.Sandbox
) -> None:
    no_retry = "sk_sandbox_opt_retry~503r0x1"
    capped = "sk_sandbox_opt_cap~429r5x1"

    async def run(client: Any) -> None:
        with pytest.raises(apibricks.InternalServerError):
            await _maybe(client.with_options(max_retries=0).invoices.list_paid())
        view = client.with_api_key(capped).with_options(retry_after_cap=1)
        with pytest.raises(apibricks.RateLimitError):  # Retry-After 5 > cap: raised at once
            await _maybe(view.invoices.list_paid())

    if facade.kind == "async":  # type: ignore[attr-defined]
        await facade(run, api_key=no_retry)
    else:
        await facade(lambda client: _sync_run(run, client), api_key=no_retry)
    assert sandbox_server.requests_for(no_retry) == 1
    assert sandbox_server.requests_for(capped) == 1


async def test_view_default_headers_merge_over_the_parents(
    facade: Facade, sandbox_server: sandbox.Sandbox
) -> None:
    await facade(
        lambda client: client.with_options(
            default_headers={"X-View": "v", "X-Shared": "view"}
        ).invoices.list_paid(),
        api_key=KEY,
        default_headers={"X-Parent": "p", "X-Shared": "parent"},
    )
    headers = sandbox_server.last_headers
    assert headers is not None
    assert (headers["X-Parent"], headers["X-View"], headers["X-Shared"]) == ("p", "v", "view")
    assert headers["Authorization"] == KEY


async def test_view_max_response_bytes(facade: Facade) -> None:
    with pytest.raises(apibricks.ResponseTooLargeError):
        await facade(
            lambda client: client.with_options(max_response_bytes=100).invoices.list_paid(),
            api_key=KEY,
        )


@pytest.mark.parametrize("order", ["key_then_options", "options_then_key"])
async def test_with_api_key_and_with_options_chain_in_either_order(
    facade: Facade, sandbox_server: sandbox.Sandbox, order: str
) -> None:
    other = f"sk_sandbox_chain_{order}~503r0x1"

    def view(client: Any) -> Any:
        if order == "key_then_options":
            return client.with_api_key(other).with_options(max_retries=0)
        return client.with_options(max_retries=0).with_api_key(other)

    with pytest.raises(apibricks.InternalServerError):
        await facade(lambda client: view(client).invoices.list_paid(), api_key=KEY)
    assert sandbox_server.requests_for(other) == 1  # the other key, and no retry
    assert sandbox_server.requests_for(KEY) == 0


async def test_views_share_the_pool_and_close_with_the_parent(sandbox_url: str) -> None:
    client = apibricks.AsyncClient(api_key=KEY, base_url=sandbox_url)
    view = client.with_options(timeout=5).with_api_key("sk_sandbox_other")
    async with client:
        await view.invoices.list_paid()
        assert view._transport is client._transport  # one pool, one session
        await view.close()  # a view's close leaves the pool open
        await client.invoices.list_paid()
    with pytest.raises(apibricks.APIBricksError, match="closed"):
        await view.invoices.list_paid()


async def test_sync_views_share_the_pool_and_close_with_the_parent(sandbox_url: str) -> None:
    def scenario() -> None:
        with apibricks.Client(api_key=KEY, base_url=sandbox_url) as client:
            view = client.with_options(timeout=5)
            assert view.invoices.list_paid() == client.invoices.list_paid()
            assert view._async._transport is client._async._transport
        with pytest.raises(apibricks.APIBricksError, match="closed"):
            view.invoices.list_paid()

    await asyncio.to_thread(scenario)


def test_pool_settings_are_not_per_view_options() -> None:
    client = apibricks.AsyncClient(api_key=KEY)
    for pool_setting in ("base_url", "proxy", "max_connections", "trust_env"):
        with pytest.raises(TypeError, match=pool_setting):
            client.with_options(**{pool_setting: None})


async def test_errors_through_views_raw_responses_and_hooks_hold_no_key_in_locals(
    sandbox_server: sandbox.Sandbox,
) -> None:
    from test_hostile_locals import SECRET, assert_no_key_in_locals

    def failing_hook(_: apibricks.HookEvent) -> None:
        raise RuntimeError("a hook failed")

    async with apibricks.AsyncClient(base_url=sandbox_server.url, max_retries=0) as client:
        for where, key, call in [
            ("with_options", SECRET + "~500", lambda c: c.with_options(timeout=5).invoices),
            ("raw", SECRET + "~401", lambda c: c.invoices.with_raw_response),
            (
                "hook",
                SECRET,
                lambda c: c.with_options(event_hooks={"response": [failing_hook]}).invoices,
            ),
        ]:
            with pytest.raises(Exception) as caught:  # noqa: PT011 - checked just below
                await call(client.with_api_key(key)).list_paid()
            assert isinstance(caught.value, (apibricks.APIBricksError, RuntimeError))
            assert_no_key_in_locals(caught.value, key, where)
    with pytest.raises(apibricks.ConfigurationError) as refused:
        apibricks.AsyncClient.from_settings("not settings", api_key=SECRET)  # type: ignore[arg-type]
    assert_no_key_in_locals(refused.value, SECRET, "from_settings")
