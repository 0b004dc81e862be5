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
    An `AsyncClient` against it, opened and closed on the event loop the test runs on,
    whatever its loop scope (``@pytest.mark.asyncio(loop_scope="module")``, "class",
    "package", "session", or ``asyncio_default_test_loop_scope``). Needs pytest-asyncio
    >= 0.24; works in its strict mode (mark the test ``@pytest.mark.asyncio``) and in auto
    mode alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:
    from apibricks import AsyncClient, Client

__all__ = ["apibricks_async_client", "apibricks_client", "apibricks_sandbox"]


_LOOP_SCOPES: Final = ("function", "class", "module", "package", "session")


def _client_on_loop(loop_scope: str) -> Any:
    """The client fixture run on the ``loop_scope`` event loop (set up and torn down there)."""

    async def client(apibricks_sandbox: str) -> AsyncIterator[AsyncClient]:
        from apibricks import AsyncClient, sandbox

        async with AsyncClient(api_key=sandbox.DEMO_KEY, base_url=apibricks_sandbox) as client:
            yield client

    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - pytest-asyncio is in the test group
        return None
    name = f"_apibricks_async_client_on_{loop_scope}_loop"
    try:
        return pytest_asyncio.fixture(client, loop_scope=loop_scope, name=name)  # type: ignore[call-overload]
    except TypeError:  # pytest-asyncio < 0.24, no loop_scope: each test on its own loop
        return pytest_asyncio.fixture(client, name=name) if loop_scope == "function" else None


# One per loop scope pytest-asyncio offers; `apibricks_async_client` picks the test's.
_on_function_loop = _client_on_loop("function")
_on_class_loop = _client_on_loop("class")
_on_module_loop = _client_on_loop("module")
_on_package_loop = _client_on_loop("package")
_on_session_loop = _client_on_loop("session")
_ON_LOOP: Final = dict(
    zip(
        _LOOP_SCOPES,
        (_on_function_loop, _on_class_loop, _on_module_loop, _on_package_loop, _on_session_loop),
        strict=True,
    )
)


def _test_loop_scope(request: pytest.FixtureRequest) -> str:
    """The loop scope pytest-asyncio runs this test in: its ``asyncio`` mark's
    ``loop_scope`` (or the older ``scope``), else ``asyncio_default_test_loop_scope``."""
    marker = request.node.get_closest_marker("asyncio")
    marked = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope") if marker else None
    if marked:
        return str(marked)
    try:
        return str(request.config.getini("asyncio_default_test_loop_scope") or "function")
    except ValueError:  # a pytest-asyncio without that option: tests run per function
        return "function"


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


@pytest.fixture
def apibricks_async_client(request: pytest.FixtureRequest) -> AsyncClient:
    """An `AsyncClient` on the sandbox with its demo key, opened and closed on the loop the
    test runs on: a client's connections belong to one event loop."""
    scope = _test_loop_scope(request)
    if scope not in _LOOP_SCOPES:
        raise pytest.UsageError(f"apibricks_async_client: unknown asyncio loop scope {scope!r}")
    if _ON_LOOP[scope] is None:
        raise pytest.UsageError(
            f"apibricks_async_client on a {scope}-scoped event loop needs pytest-asyncio "
            '>= 0.24: pip install "pytest-asyncio>=0.24"'
        )
    client: AsyncClient = request.getfixturevalue(f"_apibricks_async_client_on_{scope}_loop")
    return client
