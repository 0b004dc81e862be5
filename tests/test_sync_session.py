"""``Client(session=...)`` cannot work (a session belongs to the loop that made it, and a
`Client` runs on a private loop): refused at construction, naming what to use instead
(issue 27 item 5)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

import apibricks

MAKERS: dict[str, Callable[[aiohttp.ClientSession], Any]] = {
    "Client(...)": lambda session: apibricks.Client(api_key="sk_sandbox_a", session=session),
    "Client.from_settings(...)": lambda session: apibricks.Client.from_settings(
        apibricks.ClientSettings(), api_key="sk_sandbox_a", session=session
    ),
}


@pytest.mark.parametrize("make", sorted(MAKERS))
async def test_a_session_given_to_the_sync_client_is_refused_at_construction(make: str) -> None:
    threads = set(threading.enumerate())
    async with aiohttp.ClientSession() as session:
        with pytest.raises(apibricks.ConfigurationError) as caught:
            MAKERS[make](session)
        assert not session.closed  # untouched: it stays its owner's
    message = str(caught.value)
    for instead in ("ssl=", "proxy=", "AsyncClient"):
        assert instead in message, message
    assert "sk_sandbox" not in message
    assert set(threading.enumerate()) == threads  # no loop thread was started for it
