"""scripts/generate_sync.py keeps up when the async surface grows (other tests cover today's).

The async source is copied and extended the way the SDK is growing (a classmethod that
builds a client, a view-returning method, a property, a nested resource set in
``__init__``, a new constructor keyword), and the generated facade is checked.
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent

CLIENT_ADDITIONS = '''
    @classmethod
    def from_profile(cls, settings: Profile, *, api_key: str | None = None) -> AsyncClient:
        """A client configured by ``settings``."""
        return cls(api_key=api_key)

    @property
    def profile(self) -> Profile:
        """This client's settings."""
        return Profile()

    def with_variant(self, *, timeout: float | None = None) -> AsyncClient:
        """A view with other options; use it in ``async with`` blocks."""
        return self
'''
RESOURCE_ADDITIONS = '''

class AsyncStreamedInvoices:
    """Raw responses of `AsyncInvoices`."""

    def __init__(self, invoices: AsyncInvoices) -> None:
        self._invoices = invoices

    async def list_paid(self) -> bytes:
        """The body as received."""
        return b""
'''


@pytest.fixture
def generator(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_sync", ROOT / "scripts" / "generate_sync.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "generate_sync", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def grown(generator: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The generated ``_client.py`` for an async source with the additions above."""
    source = tmp_path / "_async"
    shutil.copytree(ROOT / "apibricks" / "_async", source)
    client = (source / "_client.py").read_text()
    client = client.replace(
        "from typing import", "from .._profile import Profile\nfrom typing import"
    )
    client = client.replace(
        "    def with_api_key(", CLIENT_ADDITIONS.lstrip("\n") + "\n    def with_api_key("
    )
    client = client.replace(
        "        session: aiohttp.ClientSession | None = None,\n",
        "        session: aiohttp.ClientSession | None = None,\n"
        "        region: str | None = None,\n",
        1,
    )
    (source / "_client.py").write_text(client)
    resources = (source / "_resources.py").read_text() + RESOURCE_ADDITIONS
    resources = resources.replace(
        "        self._get = get\n",
        "        self._get = get\n"
        "        self.with_streamed_response = AsyncStreamedInvoices(self)\n",
        1,
    )
    resources = resources.replace(
        '__slots__ = ("_get", "with_raw_response")',
        '__slots__ = ("_get", "with_raw_response", "with_streamed_response")',
    )
    (source / "_resources.py").write_text(resources)
    monkeypatch.setattr(generator, "ASYNC_DIR", source)
    text: str = generator.generate()[generator.SYNC_DIR / "_client.py"]
    ast.parse(text)
    return text


def test_a_classmethod_returning_the_client_makes_a_client_with_its_own_loop(grown: str) -> None:
    assert "    @classmethod\n    def from_profile(" in grown
    # The raw key is wrapped and dropped first: crash reporters print every frame's locals.
    assert "secret = hide_key(api_key)\n        del api_key" in grown
    assert "return cls._own(AsyncClient.from_profile(settings, api_key=secret))" in grown
    assert "from .._profile import Profile" in grown


def test_a_method_returning_the_client_makes_a_view_on_the_same_loop(grown: str) -> None:
    assert "def with_variant(self, *, timeout: float | None = None) -> Client:" in grown
    assert "view._bind(self._async.with_variant(timeout=timeout), self._loop, self)" in grown
    assert '"""A view with other options; use it in ``with`` blocks."""' in grown


def test_a_property_and_a_new_constructor_keyword_pass_through(grown: str) -> None:
    assert "    @property\n    def profile(self) -> Profile:" in grown
    assert "return self._async.profile" in grown
    assert "region: str | None = None," in grown and "region=region," in grown


def test_a_resource_set_in_init_is_wrapped_with_its_own_facade(grown: str) -> None:
    assert "class StreamedInvoices:" in grown
    assert (
        "self.with_streamed_response = StreamedInvoices(async_.with_streamed_response, client)"
        in grown
    )
    assert (
        '__slots__ = ("_async", "_client", "_loop", "with_raw_response", "with_streamed_response")'
        in grown
    )
    assert "return self._loop.run(self._async.list_paid())" in grown
