"""Settings as a value: checked at construction, frozen, picklable, rebuilt elsewhere.

Every bad setting is a `ConfigurationError` (an `APIBricksError` and a `ValueError`)
naming the keyword, raised by both constructors and by ``with_options`` before any I/O.
"""

from __future__ import annotations

import asyncio
import copy
import math
import pickle
import sys
from typing import Any

import attrs
import pytest

import apibricks
from apibricks import sandbox

KEY = "sk_sandbox_settings"
CLIENTS = [apibricks.AsyncClient, apibricks.Client]


def _close(client: Any) -> None:
    """Close a sync client (its loop thread); an async one that never ran holds nothing."""
    if isinstance(client, apibricks.Client):
        client.close()


BAD_SETTINGS: list[tuple[dict[str, Any], str]] = [
    ({"timeout": math.nan}, "timeout must be a finite number of seconds > 0"),
    ({"timeout": math.inf}, "timeout must be a finite"),
    ({"timeout": -1}, "timeout must be"),
    ({"timeout": 0}, "timeout must be"),
    ({"timeout": "5"}, "timeout must be"),
    ({"timeout": True}, "timeout must be"),
    ({"retry_after_cap": math.nan}, "retry_after_cap must be a finite number of seconds >= 0"),
    ({"retry_after_cap": math.inf}, "retry_after_cap must be"),
    ({"retry_after_cap": -0.5}, "retry_after_cap must be"),
    ({"retry_after_cap": None}, "retry_after_cap must be"),
    ({"max_retries": -1}, r"max_retries must be an int >= 0"),
    ({"max_retries": 1.5}, "max_retries must be"),
    ({"max_retries": True}, "max_retries must be"),
    ({"max_retries": "2"}, "max_retries must be"),
    ({"max_connections": -1}, r"max_connections must be an int >= 0 \(0: unlimited\)"),
    ({"max_connections": 2.0}, "max_connections must be"),
    ({"max_response_bytes": 0}, r"max_response_bytes must be an int >= 1, or None"),
    ({"max_response_bytes": -5}, "max_response_bytes must be"),
    ({"max_response_bytes": 1.5}, "max_response_bytes must be"),
    ({"max_response_bytes": True}, "max_response_bytes must be"),
    ({"default_headers": {"X-Evil": "a\r\nInjected: 1"}}, "line break"),
    ({"default_headers": {"X-Evil": "a\nb"}}, "line break"),
    ({"default_headers": {"X-Evil": "a\x1bb"}}, "control character"),
    ({"default_headers": {"X-Number": 5}}, r"default_headers\['X-Number'\] must be a str"),
    ({"default_headers": {5: "a"}}, "keyed by HTTP header names"),
    ({"default_headers": {"Bad Name": "a"}}, "keyed by HTTP header names"),
    ({"default_headers": {"Bad\r\nName": "a"}}, "keyed by HTTP header names"),
    ({"default_headers": {"authorization": "k"}}, "may not set authorization"),
    ({"default_headers": "X-A: b"}, "default_headers must be a mapping"),
    ({"base_url": "ftp://example.com"}, "base_url must be an absolute http"),
    ({"base_url": "not a url"}, "base_url must be an absolute http"),
    ({"base_url": 5}, "base_url must be"),
    ({"base_url": "http://api.example.com"}, "Refusing plain http://"),
    ({"allow_insecure_http": 1}, "allow_insecure_http must be True or False"),
    ({"trust_env": "yes"}, "trust_env must be True or False"),
    ({"proxy": "socks5://127.0.0.1:1080"}, "proxy must be an absolute http"),
    ({"proxy": 8080}, "proxy must be"),
    ({"proxy_auth": ("user", "pw")}, "proxy_auth needs proxy="),
    ({"proxy": "http://127.0.0.1:1", "proxy_auth": ("a:b", "pw")}, "proxy_auth must be"),
    ({"proxy": "http://127.0.0.1:1", "proxy_auth": "user:pw"}, "proxy_auth must be"),
    ({"event_hooks": {"sent": []}}, "unknown event 'sent'"),
    ({"event_hooks": {"request": [5]}}, "not callable"),
    ({"event_hooks": {"request": print}}, "must be a list of callables"),
    ({"event_hooks": [print]}, "event_hooks must be a mapping"),
]


@pytest.mark.parametrize("client_class", CLIENTS)
@pytest.mark.parametrize(("kwargs", "message"), BAD_SETTINGS)
def test_bad_settings_raise_configuration_error_naming_the_keyword(
    client_class: type[Any], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(apibricks.ConfigurationError, match=message) as caught:
        client_class(api_key=KEY, **kwargs)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, apibricks.APIBricksError)


PER_CALL = {"timeout", "retry_after_cap", "max_retries", "max_response_bytes", "event_hooks"}


@pytest.mark.parametrize("client_class", CLIENTS)
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [case for case in BAD_SETTINGS if set(case[0]) <= PER_CALL | {"default_headers"}],
)
def test_with_options_checks_the_same_way(
    client_class: type[Any], kwargs: dict[str, Any], message: str
) -> None:
    client = client_class(api_key=KEY)
    try:
        with pytest.raises(apibricks.ConfigurationError, match=message):
            client.with_options(**kwargs)
    finally:
        _close(client)


@pytest.mark.parametrize("client_class", CLIENTS)
def test_base_url_with_credentials_is_refused_without_showing_them(
    client_class: type[Any],
) -> None:
    with pytest.raises(apibricks.ConfigurationError, match="must not contain credentials") as e:
        client_class(api_key=KEY, base_url="https://alice:hunter2@api.example.com")
    assert "hunter2" not in str(e.value)
    with pytest.raises(apibricks.ConfigurationError, match="proxy_auth") as e:
        client_class(api_key=KEY, proxy="http://alice:hunter2@127.0.0.1:3128")
    assert "hunter2" not in str(e.value)


def test_settings_are_frozen_and_hashable_and_equal_by_value() -> None:
    settings = apibricks.ClientSettings(timeout=5, default_headers={"X-A": "1"})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        settings.timeout = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.default_headers["X-B"] = "2"  # type: ignore[index]
    assert settings.timeout == 5.0 and isinstance(settings.timeout, float)
    same = apibricks.ClientSettings(timeout=5.0, default_headers={"X-A": "1"})
    assert settings == same and hash(settings) == hash(same)
    assert attrs.evolve(settings, timeout=7).timeout == 7.0
    with pytest.raises(apibricks.ConfigurationError, match="timeout"):
        attrs.evolve(settings, timeout=math.nan)


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_settings_round_trip_through_pickle_and_copy(protocol: int) -> None:
    settings = apibricks.ClientSettings(
        base_url="https://api.example.com/v1",
        timeout=None,
        max_retries=5,
        retry_after_cap=10,
        default_headers={"X-Team": "finance"},
        max_response_bytes=None,
        max_connections=7,
        proxy="http://127.0.0.1:3128",
        proxy_auth=("user", "s3cret-proxy-pw"),
        trust_env=True,
    )
    for twin in (
        pickle.loads(pickle.dumps(settings, protocol)),
        copy.copy(settings),
        copy.deepcopy(settings),
    ):
        assert twin == settings
        assert type(twin) is apibricks.ClientSettings
        assert twin.default_headers == {"X-Team": "finance"}
    assert "s3cret-proxy-pw" not in repr(settings)
    assert "'user'" in repr(settings)


@pytest.mark.parametrize("client_class", CLIENTS)
def test_client_settings_reflect_the_constructor(
    client_class: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APIBRICKS_BASE_URL", "https://env.example.com")
    client = client_class(
        api_key=KEY, timeout=3, max_retries=0, default_headers={"X-A": "b"}, max_connections=9
    )
    try:
        settings = client.settings
        assert isinstance(settings, apibricks.ClientSettings)
        assert settings.base_url == "https://env.example.com"
        assert (settings.timeout, settings.max_retries, settings.max_connections) == (3.0, 0, 9)
        assert settings.default_headers == {"X-A": "b"}
        assert KEY not in repr(settings)
        rebuilt = client_class.from_settings(settings, api_key=KEY)
        assert rebuilt.settings == settings
        assert isinstance(rebuilt, client_class)
        _close(rebuilt)
    finally:
        _close(client)


@pytest.mark.parametrize("client_class", CLIENTS)
def test_from_settings_refuses_anything_but_settings(client_class: type[Any]) -> None:
    with pytest.raises(apibricks.ConfigurationError, match="ClientSettings"):
        client_class.from_settings({"timeout": 5}, api_key=KEY)


@pytest.mark.parametrize("client_class", CLIENTS)
def test_pickling_a_client_says_to_pass_its_settings(client_class: type[Any]) -> None:
    client = client_class(api_key=KEY)
    try:
        for target in (client, client.with_api_key("sk_sandbox_other"), client.with_options()):
            with pytest.raises(TypeError, match=r"client\.settings") as caught:
                pickle.dumps(target)
            assert "from_settings" in str(caught.value)
            assert KEY not in str(caught.value)
    finally:
        _close(client)


async def test_settings_rebuild_a_working_client_in_another_process(
    sandbox_server: sandbox.Sandbox,
) -> None:
    async with apibricks.AsyncClient(
        api_key=KEY, base_url=sandbox_server.url, timeout=9, default_headers={"X-Team": "fin"}
    ) as client:
        expected = await client.invoices.list_paid()
        payload = pickle.dumps(client.settings)
    script = (
        "import pickle, sys, apibricks\n"
        "settings = pickle.loads(sys.stdin.buffer.read())\n"
        "assert settings.timeout == 9.0\n"
        "with apibricks.Client.from_settings(settings, api_key=sys.argv[1]) as client:\n"
        "    print(len(client.invoices.list_paid()))\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        KEY,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(payload), 60)
    assert process.returncode == 0, err.decode()
    assert int(out) == len(expected)
    assert sandbox_server.last_headers is not None
    assert sandbox_server.last_headers["X-Team"] == "fin"
