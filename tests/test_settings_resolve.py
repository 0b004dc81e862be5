"""Settings resolved in one place: every default declared once, seen by every entry point.

`apibricks._defaults.SETTINGS` is the single declaration; `resolve` (keyword, else
environment variable, else default) serves `AsyncClient`, `Client`, ``apibricks.dask`` and
the CLI. Changing a declared default here must change what each of them uses, and the
declaration, `ClientSettings`, both constructors and docs/options.md must list the same
settings.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import apibricks
from apibricks import _defaults, sandbox
from apibricks._settings import settings_from
from apibricks.cli import main
from apibricks.cli._args import parse_config

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk_sandbox_resolve"
ENV_NAMES = sorted({name for row in _defaults.SETTINGS.values() for name in row.env})
NOT_SETTINGS = {"api_key", "event_hooks", "session"}  # keywords beside the settings

_TOKEN = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=12)
_HOST = st.from_regex(r"[a-z][a-z0-9]{0,9}\.example", fullmatch=True)
# A valid value of each setting, other than its default where there is room for one.
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "base_url": st.builds("https://{}:{}/v{}".format, _HOST, st.integers(1, 65535), st.integers()),
    "allow_insecure_http": st.booleans(),
    "timeout": st.none() | st.floats(0.001, 1e6),
    "max_retries": st.integers(0, 50),
    "retry_after_cap": st.floats(0, 1e5),
    "default_headers": st.dictionaries(
        _TOKEN.filter(lambda name: name.lower() not in ("authorization", "proxy-authorization")),
        st.text(string.printable.strip(), max_size=20),
        max_size=3,
    ),
    "max_response_bytes": st.none() | st.integers(1, 2**40),
    "max_connections": st.integers(0, 10_000),
    "ssl": st.sampled_from([True, "system"]),  # a path needs a file: see test_tls.py
    "proxy": st.none() | st.builds("http://{}:{}".format, _HOST, st.integers(1, 65535)),
    "trust_env": st.booleans(),
}


@st.composite
def changed_defaults(draw: st.DrawFn) -> dict[str, Any]:
    """Some settings (one at least) with new valid defaults; proxy_auth only beside a proxy."""
    names = draw(st.sets(st.sampled_from(sorted(VALUES)), min_size=1))
    changed = {name: draw(VALUES[name]) for name in names}
    proxy = changed.get("proxy", _defaults.default("proxy"))
    if proxy is not None and draw(st.booleans()):
        changed["proxy_auth"] = (draw(_TOKEN), draw(st.text(max_size=8).filter(str.isprintable)))
    return changed


@contextlib.contextmanager
def declared(changes: dict[str, Any]) -> Iterator[None]:
    """`SETTINGS` with these defaults changed (the single declaration), and no variables set."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ENV_NAMES:
            patch.delenv(name, raising=False)
        for name, value in changes.items():
            patch.setitem(
                _defaults.SETTINGS, name, _defaults.SETTINGS[name]._replace(default=value)
            )
        yield


def cli_settings(*args: str, environ: dict[str, str] | None = None) -> apibricks.ClientSettings:
    config = parse_config(
        ["invoices", "paid", "--api-key", KEY, *args], environ or {}, io.StringIO(), io.StringIO()
    )
    return config.settings


def cli_help() -> str:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(["invoices", "paid", "--help"]) == 0
    return " ".join(out.getvalue().split())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=changed_defaults())
def test_a_changed_default_shows_in_every_entry_point(changes: dict[str, Any]) -> None:
    expected = apibricks.ClientSettings(
        **{name: changes.get(name, row.default) for name, row in _defaults.SETTINGS.items()}
    )
    with declared(changes):
        client = apibricks.Client()
        try:
            seen = {
                "ClientSettings()": apibricks.ClientSettings(),
                "settings_from()": settings_from(),
                "AsyncClient()": apibricks.AsyncClient().settings,
                "Client()": client.settings,
                "the CLI": cli_settings(),
            }
        finally:
            client.close()
        shown = cli_help()
    assert seen == dict.fromkeys(seen, expected)
    assert f"0 means no limit (default {expected.timeout or 0})" in shown
    assert f"retries of transient failures (default {expected.max_retries})" in shown


@given(keyword=VALUES["base_url"], variable=VALUES["base_url"], declared_default=VALUES["base_url"])
@settings(max_examples=30, deadline=None)
def test_keyword_then_variable_then_default(
    keyword: str, variable: str, declared_default: str
) -> None:
    with declared({"base_url": declared_default}), pytest.MonkeyPatch.context() as patch:
        assert apibricks.AsyncClient().settings.base_url == declared_default
        assert cli_settings().base_url == declared_default
        patch.setenv("APIBRICKS_BASE_URL", variable)
        environ = {"APIBRICKS_BASE_URL": variable}
        assert apibricks.AsyncClient().settings.base_url == variable
        assert apibricks.AsyncClient(base_url=None).settings.base_url == variable
        assert settings_from().base_url == variable
        assert cli_settings(environ=environ).base_url == variable
        assert apibricks.AsyncClient(base_url=keyword).settings.base_url == keyword
        assert cli_settings("--base-url", keyword, environ=environ).base_url == keyword
        assert apibricks.ClientSettings().base_url == declared_default  # a value: no environment


def test_an_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APIBRICKS_BASE_URL", "")
    assert apibricks.AsyncClient().settings.base_url == _defaults.default("base_url")


def test_a_bad_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APIBRICKS_BASE_URL", "ftp://files.example")
    with pytest.raises(apibricks.ConfigurationError, match=r"base_url .*\$APIBRICKS_BASE_URL"):
        apibricks.AsyncClient()
    with pytest.raises(apibricks.ConfigurationError, match="base_url must be") as caught:
        apibricks.AsyncClient(base_url="ftp://files.example")
    assert "APIBRICKS_BASE_URL" not in str(caught.value)  # the keyword's fault, not the variable's


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(TypeError, match="unknown setting"):
        _defaults.resolve({"timeout_s": 5})


def _keywords(function: Any) -> set[str]:
    return set(inspect.signature(function).parameters) - {"self"}


def test_every_place_lists_the_same_settings() -> None:
    """Adding a setting touches the declaration and `ClientSettings`; this names what else."""
    declared_names = list(_defaults.SETTINGS)
    assert [field.name for field in attrs.fields(apibricks.ClientSettings)] == declared_names
    for client in (apibricks.AsyncClient, apibricks.Client):
        assert _keywords(client.__init__) == {*declared_names, *NOT_SETTINGS}
        per_call = {name for name, row in _defaults.SETTINGS.items() if not row.pool}
        assert _keywords(client.with_options) == {*per_call, "event_hooks"}
    assert set(VALUES) | {"proxy_auth"} == set(declared_names)


@settings(max_examples=40, deadline=None)
@given(changes=changed_defaults())
def test_each_keyword_reaches_the_settings(changes: dict[str, Any]) -> None:
    """The constructors pass every setting on (none is dropped for its default)."""
    expected = apibricks.ClientSettings(**changes)
    assert apibricks.AsyncClient(**changes).settings == expected
    assert settings_from(changes, environ={}) == expected


def _shown(name: str) -> str:
    """A default as docs/options.md writes it."""
    row = _defaults.SETTINGS[name]
    value = row.default
    if isinstance(value, bool) or value is None or isinstance(value, str):
        text = f"`{value}`"
    elif not isinstance(value, (int, float)):
        text = "none" if not value else repr(value)
    elif value >= 2**20 and value % 2**20 == 0:
        text = f"{value // 2**20} MiB"
    else:
        text = f"{value:g}"
    return ", else ".join([*(f"`${variable}`" for variable in row.env), text])


def test_the_docs_table_is_the_declaration() -> None:
    text = (ROOT / "docs" / "options.md").read_text(encoding="utf-8")
    table = text.split("## Settings, checked once", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| .* \| (.*) \|$", table, re.MULTILINE)
    assert sorted(name for name, _ in rows) == sorted(_defaults.SETTINGS)
    assert dict(rows) == {name: _shown(name) for name in _defaults.SETTINGS}


def test_a_changed_default_reaches_the_server(capsys: pytest.CaptureFixture[str]) -> None:
    """End to end: the declared base URL and body cap, changed, are what client and CLI use."""
    with sandbox.serve_in_thread() as url, declared({"base_url": url}):
        with apibricks.Client(api_key=KEY) as client:
            assert len(client.invoices.list_paid()) == sandbox.DEFAULT_INVOICES_PER_ORG
        assert main(["invoices", "paid", "--api-key", KEY, "--format", "jsonl", "-q"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == sandbox.DEFAULT_INVOICES_PER_ORG
        with declared({"base_url": url, "max_response_bytes": 64, "max_retries": 0}):
            with (
                apibricks.Client(api_key=KEY) as client,
                pytest.raises(apibricks.ResponseTooLargeError),
            ):
                client.invoices.list_paid()
            # The CLI streams (no body cap applies): a changed retry budget shows instead.
            assert main(["invoices", "paid", "--api-key", f"{KEY}~503x1", "-q"]) == 1
            assert "InternalServerError" in capsys.readouterr().err
        assert main(["invoices", "paid", "--api-key", f"{KEY}~503x1", "-q", "--format", "csv"]) == 0


def test_each_variable_is_named_in_one_module() -> None:
    """Only `_defaults` reads a setting's variable (``$APIBRICKS_BASE_URL`` was read in three)."""
    variables = {variable for row in _defaults.SETTINGS.values() for variable in row.env}
    naming = {
        (str(path.relative_to(ROOT)), node.value)
        for path in (ROOT / "apibricks").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in variables
    }
    assert naming == {("apibricks/_defaults.py", variable) for variable in variables}
