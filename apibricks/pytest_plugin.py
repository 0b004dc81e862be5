"""pytest fixtures for testing code that calls the Console API, against the embedded sandbox.

Installing apibricks registers this module as a pytest plugin (entry point ``pytest11``,
name ``apibricks``; disable it with ``-p no:apibricks``):

``apibricks_sandbox``
    The base URL of a sandbox serving on loopback from a daemon thread. Session-scoped:
    one server for the whole run, usable from sync and async tests on any event loop.
    Its fault counters are per exact key, so give each fault scenario its own key
    (``sk_sandbox_<test name>~503x2``).
``apibricks_client``
    A `Client` against it with ``sandbox.DEMO_KEY``, closed after the test.
``apibricks_async_client``
    An `AsyncClient` against it, opened and closed on the test's own event loop. Needs
    pytest-asyncio; works in its strict mode (mark the test ``@pytest.mark.asyncio``) and
    in auto mode alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from apibricks import AsyncClient, Client

__all__ = ["apibricks_async_client", "apibricks_client", "apibricks_sandbox"]


def _async_fixture(function: Callable[..., Any]) -> Any:
    """``pytest_asyncio.fixture`` (what strict mode requires), or a fixture that says so."""
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - pytest-asyncio is in the test group

        @pytest.fixture(name=function.__name__)
        def needs_pytest_asyncio() -> None:
            raise pytest.UsageError(
                f"{function.__name__} needs pytest-asyncio: pip install pytest-asyncio"
            )

        return needs_pytest_asyncio
    return pytest_asyncio.fixture(function)


@pytest.fixture(scope="session")
def apibricks_sandbox() -> Iterator[str]:
    """The URL of a running sandbox (``http://127.0.0.1:<port>``), one per test session."""
    from apibricks import sandbox

    with sandbox.serve_in_thread() as url:
        yield url


@pytest.fixture
def apibricks_client(apibricks_sandbox: str) -> Iterator[Client]:
    """A blocking `Client` on the sandbox with its demo key; ``with_api_key`` for others."""
    from apibricks import Client, sandbox

    with Client(api_key=sandbox.DEMO_KEY, base_url=apibricks_sandbox) as client:
        yield client


@_async_fixture
async def apibricks_async_client(apibricks_sandbox: str) -> AsyncIterator[AsyncClient]:
    """An `AsyncClient` on the sandbox with its demo key, closed on the test's loop."""
    from apibricks import AsyncClient, sandbox

    async with AsyncClient(api_key=sandbox.DEMO_KEY, base_url=apibricks_sandbox) as client:
        yield client
