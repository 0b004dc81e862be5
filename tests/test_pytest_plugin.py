"""The pytest plugin users get (``apibricks.pytest_plugin``), run by pytest itself (pytester).

The documented example in ``docs/sandbox.md`` is extracted and run as written, in a fresh
pytest process, in pytest-asyncio's strict and auto modes, with warnings as errors.
"""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "sandbox.md"


def _documented(name: str) -> str:
    """The code block after ``<!-- plugin-example: NAME -->`` in docs/sandbox.md."""
    pattern = rf"<!-- plugin-example: {re.escape(name)} -->\n```\w+\n(.*?)```"
    found = re.search(pattern, DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert found, f"no example {name!r} in {DOC}"
    return found[1]


def _run(pytester: pytest.Pytester, mode: str, *args: str) -> pytest.RunResult:
    config = _documented("pyproject.toml").replace(
        'asyncio_mode = "strict"', f'asyncio_mode = "{mode}"'
    )
    assert f'asyncio_mode = "{mode}"' in config
    pytester.makepyprojecttoml(config)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_installing_apibricks_registers_the_plugin() -> None:
    (entry,) = entry_points(group="pytest11", name="apibricks")
    assert entry.value == "apibricks.pytest_plugin"


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_the_documented_example_passes_as_written(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(test_invoices=_documented("test_invoices.py"))
    result = _run(pytester, mode)
    result.assert_outcomes(passed=3)


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_the_fixtures_share_one_sandbox_and_close_their_clients(
    pytester: pytest.Pytester, mode: str
) -> None:
    pytester.makepyfile(
        test_fixtures="""
        import gc

        import pytest

        import apibricks

        URLS = []
        CLIENTS = []


        @pytest.mark.asyncio
        async def test_async(apibricks_async_client, apibricks_sandbox):
            assert apibricks_async_client.base_url == apibricks_sandbox
            assert len(await apibricks_async_client.invoices.list_paid()) == 25
            URLS.append(apibricks_sandbox)
            CLIENTS.append(apibricks_async_client)


        def test_sync(apibricks_client, apibricks_sandbox):
            assert isinstance(apibricks_client, apibricks.Client)
            assert len(apibricks_client.invoices.list_paid()) == 25
            URLS.append(apibricks_sandbox)
            CLIENTS.append(apibricks_client)


        def test_after(apibricks_sandbox):
            assert URLS == [apibricks_sandbox, apibricks_sandbox]  # one server per session
            assert all(client.is_closed for client in CLIENTS)
            gc.collect()  # an unclosed session would warn here, and warnings are errors
        """
    )
    result = _run(pytester, mode, "-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_the_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses_it(apibricks_client):\n    pass\n")
    result = _run(pytester, "strict", "-p", "no:apibricks")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'apibricks_client' not found*"])


LOOP_SCOPES = ["function", "class", "module", "package", "session"]
# Two tests on the loop of one scope, each given its own client, then a check that both
# clients were closed and nothing is left to warn (warnings are errors; -X dev shows leaks).
# The mark goes on each test, on the class or on the module (`pytestmark`), as users write it.
SCOPED_TESTS = """
import asyncio
import gc

import pytest

import apibricks

{module_mark}
SEEN = []


{class_mark}
class TestOnOneLoop:
    {test_mark}
    async def test_first(self, apibricks_async_client):
        assert len(await apibricks_async_client.invoices.list_paid()) == 25
        SEEN.append((apibricks_async_client, asyncio.get_running_loop()))

    {test_mark}
    async def test_second(self, apibricks_async_client):
        other = apibricks_async_client.with_api_key("sk_sandbox_globex")
        assert len(await other.invoices.list_paid()) == 25
        SEEN.append((apibricks_async_client, asyncio.get_running_loop()))

    {test_mark}
    async def test_after(self):
        (first, loop), (second, again) = SEEN
        assert first is not second and first.is_closed and second.is_closed
        assert (loop is again) == ({scope!r} != "function")  # the scope's loop ran them
        gc.collect()  # an unclosed session or socket would warn here
"""
# Where each scope's mark goes in `test_the_async_client_follows_the_marked_loop_scope`.
MARKED_ON = {
    "function": "test",
    "class": "class",
    "module": "module",
    "package": "test",
    "session": "class",
}


def _run_scoped(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    marks: dict[str, tuple[str, str]],
    option: str = "",
) -> pytest.RunResult:
    """One module of `SCOPED_TESTS` per scope, marked ``marks[scope] = (where, mark)``."""
    monkeypatch.setenv("PYTHONDEVMODE", "1")  # ResourceWarning and asyncio's debug checks
    config = _documented("pyproject.toml").replace(
        'asyncio_mode = "strict"', f'asyncio_mode = "{mode}"\n{option}'
    )
    pytester.makepyprojecttoml(config)
    package = pytester.mkpydir("suite")  # a package, for loop_scope="package"
    for scope, (where, mark) in marks.items():
        text = SCOPED_TESTS.format(
            scope=scope,
            module_mark=f"pytestmark = {mark.lstrip('@')}" if where == "module" else "",
            class_mark=mark if where == "class" else "",
            test_mark=mark if where == "test" else "",
        )
        (package / f"test_{scope}_loop.py").write_text(text, encoding="utf-8")
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_the_async_client_follows_the_marked_loop_scope(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    marks = {
        scope: (MARKED_ON[scope], f'@pytest.mark.asyncio(loop_scope="{scope}")')
        for scope in LOOP_SCOPES
    }
    result = _run_scoped(pytester, monkeypatch, mode, marks)
    result.assert_outcomes(passed=3 * len(LOOP_SCOPES))


@pytest.mark.parametrize("scope", ["class", "package"])
def test_the_async_client_follows_the_default_test_loop_scope(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, scope: str
) -> None:
    """A bare mark: pytest-asyncio's ``asyncio_default_test_loop_scope`` decides."""
    option = f'asyncio_default_test_loop_scope = "{scope}"'
    marks = {scope: ("test", "@pytest.mark.asyncio")}
    result = _run_scoped(pytester, monkeypatch, "strict", marks, option)
    result.assert_outcomes(passed=3)


def test_the_documented_loop_scope_example_passes_as_written(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONDEVMODE", "1")
    pytester.makepyfile(test_module_loop=_documented("test_module_loop.py"))
    result = _run(pytester, "strict")
    result.assert_outcomes(passed=2)


def test_an_older_pytest_asyncio_keeps_the_function_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-asyncio < 0.24 has no ``loop_scope``: the plugin still loads (it is registered
    for everyone who installs apibricks), with the client on each test's own loop only."""
    import pytest_asyncio

    from apibricks import pytest_plugin

    real = pytest_asyncio.fixture

    def without_loop_scope(function: Any, **kwargs: Any) -> Any:
        if "loop_scope" in kwargs:
            raise TypeError("fixture() got an unexpected keyword argument 'loop_scope'")
        return real(function, **kwargs)

    monkeypatch.setattr(pytest_asyncio, "fixture", without_loop_scope)
    assert pytest_plugin._client_on_loop("function") is not None
    for scope in LOOP_SCOPES[1:]:
        assert pytest_plugin._client_on_loop(scope) is None
