"""Proxies from the environment, on by default: HTTPS_PROXY through a real CONNECT tunnel.

The API is the sandbox behind a TLS front (``tls_servers``) under the name
``api.apibricks.test``, which no DNS resolves: only the `TunnelProxy` (which reaches every
host on loopback) gets there. The proxy records the CONNECT heads and every byte it carries;
the key must be in none of them (it travels inside TLS).
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tls_servers import TLSFront, TunnelProxy
from yarl import URL

import apibricks
from apibricks._env_proxy import bypasses, env_proxy

Facade = Callable[..., Awaitable[Any]]
LIST_PAID = lambda client: client.invoices.list_paid()  # noqa: E731
KEY = "sk_sandbox_behind_the_proxy_41c7"
NAME = "api.apibricks.test"


@pytest.fixture
async def tunnel() -> AsyncIterator[TunnelProxy]:
    server = TunnelProxy()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def api_url(front: TLSFront) -> str:
    return f"https://{NAME}:{front.port}"


def _assert_tunnelled(tunnel: TunnelProxy, front: TLSFront) -> str:
    (head,) = tunnel.heads
    assert head.startswith(f"CONNECT {NAME}:{front.port} HTTP/1.1\r\n")
    assert "authorization:" not in head.lower().replace("proxy-authorization:", "")
    assert KEY not in head
    assert tunnel.carried  # the TLS records went through it...
    assert KEY.encode() not in tunnel.carried  # ...and the key only encrypted
    assert b"sk_sandbox" not in tunnel.carried
    return head


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"])
async def test_the_environment_proxy_tunnels_https_by_default(
    facade: Facade,
    front: TLSFront,
    tunnel: TunnelProxy,
    ca_file: Path,
    api_url: str,
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(variable, tunnel.url)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # for http:// URLs only
    assert await facade(LIST_PAID, api_key=KEY, base_url=api_url, ssl=ca_file)
    _assert_tunnelled(tunnel, front)


async def test_credentials_in_the_variable_go_on_connect_only(
    facade: Facade,
    front: TLSFront,
    tunnel: TunnelProxy,
    ca_file: Path,
    api_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = URL(tunnel.url).with_user("squid").with_password("pr0xy-pw")
    monkeypatch.setenv("HTTPS_PROXY", str(proxy))
    assert await facade(LIST_PAID, api_key=KEY, base_url=api_url, ssl=ca_file)
    head = _assert_tunnelled(tunnel, front)
    assert f"Proxy-Authorization: Basic {base64.b64encode(b'squid:pr0xy-pw').decode()}" in head
    assert b"pr0xy-pw" not in tunnel.carried and b"c3F1aWQ6cHIweHktcHc" not in tunnel.carried


async def test_an_untrusted_certificate_behind_the_proxy_is_a_certificate_error(
    facade: Facade,
    front: TLSFront,
    tunnel: TunnelProxy,
    api_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", tunnel.url)
    with pytest.raises(apibricks.CertificateError):
        await facade(LIST_PAID, api_key=KEY, base_url=api_url)
    assert len(tunnel.heads) == 1  # not retried
    assert KEY.encode() not in tunnel.carried


async def test_proxy_keyword_wins_over_the_environment(
    facade: Facade,
    front: TLSFront,
    tunnel: TunnelProxy,
    ca_file: Path,
    api_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # discard: nothing listens
    assert await facade(LIST_PAID, api_key=KEY, base_url=api_url, ssl=ca_file, proxy=tunnel.url)
    _assert_tunnelled(tunnel, front)


@pytest.mark.parametrize(
    "settings",
    [{"trust_env": False}, {}],
    ids=["trust_env=False", "NO_PROXY"],
)
async def test_without_the_proxy_the_name_is_not_reached(
    facade: Facade,
    tunnel: TunnelProxy,
    ca_file: Path,
    api_url: str,
    monkeypatch: pytest.MonkeyPatch,
    settings: dict[str, Any],
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", tunnel.url)
    if not settings:
        monkeypatch.setenv("NO_PROXY", f"example.com,.apibricks.test:{URL(api_url).port}")
    with pytest.raises(apibricks.APIConnectionError):  # straight to a name no DNS knows
        await facade(
            LIST_PAID, api_key=KEY, base_url=api_url, ssl=ca_file, max_retries=0, **settings
        )
    assert tunnel.heads == []


async def test_a_loopback_https_base_url_never_takes_the_environment_proxy(
    facade: Facade,
    front: TLSFront,
    tunnel: TunnelProxy,
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", tunnel.url)
    assert await facade(LIST_PAID, api_key=KEY, base_url=front.url, ssl=ca_file)
    assert tunnel.heads == []


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("socks5://user:s3cret@proxy.example:1080", "socks5:// proxy"),
        ("http://", "not a proxy URL"),
    ],
)
@pytest.mark.parametrize("make", ["AsyncClient", "Client"])
def test_an_unusable_environment_proxy_fails_at_construction_naming_it(
    value: str, shown: str, make: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALL_PROXY", value)
    with pytest.raises(apibricks.ConfigurationError, match=r"ALL_PROXY.*trust_env=False") as caught:
        getattr(apibricks, make)()
    assert shown in str(caught.value) and "s3cret" not in str(caught.value)
    apibricks.AsyncClient(trust_env=False)  # the variable is ignored then


# -- NO_PROXY and the variables, as properties ---------------------------------------------

# A letter first: all-digit labels could spell an IP address, which is not a domain.
LABEL = st.builds(
    "{}{}".format,
    st.sampled_from("abcdefghijklmnopqrstuvwxyz"),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", max_size=11),
)
DOMAIN = st.lists(LABEL, min_size=1, max_size=4).map(".".join)


@given(host=DOMAIN, parent=DOMAIN, dot=st.booleans(), upper=st.booleans(), others=st.lists(DOMAIN))
def test_no_proxy_exempts_a_domain_and_its_subdomains(
    host: str, parent: str, dot: bool, upper: bool, others: list[str]
) -> None:
    entry = ("." if dot else "") + parent
    listed = ", ".join([*others, entry.upper() if upper else entry])
    assert bypasses(f"{host}.{parent}", 443, listed)
    assert bypasses(parent, 443, listed)
    assert bypasses(parent, 443, "*")


@given(host=DOMAIN, suffix=DOMAIN)
def test_no_proxy_never_exempts_a_mere_ending(host: str, suffix: str) -> None:
    assert not bypasses(f"{host}x{suffix}", 443, suffix)  # evilexample.com vs example.com


@given(host=DOMAIN, port=st.integers(1, 65535), other=st.integers(1, 65535))
def test_no_proxy_entries_with_a_port_match_that_port_only(
    host: str, port: int, other: int
) -> None:
    assert bypasses(host, port, f"{host}:{port}")
    assert bypasses(host, other, f"{host}:{port}") is (other == port)


@given(address=st.ip_addresses(v=4), prefix=st.integers(8, 32))
def test_no_proxy_cidr_blocks_exempt_their_addresses(
    address: ipaddress.IPv4Address, prefix: int
) -> None:
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    assert bypasses(str(address), 443, f"example.com,{network}")
    outside = (
        network.broadcast_address + 1
        if network.broadcast_address < ipaddress.IPv4Address("255.255.255.255")
        else None
    )
    if outside is not None:
        assert not bypasses(str(outside), 443, str(network))


@given(host=st.sampled_from(["127.0.0.1", "127.8.9.10", "localhost", "[::1]"]))
def test_loopback_never_takes_an_environment_proxy(host: str) -> None:
    environ = {"HTTPS_PROXY": "http://proxy.example:3128", "ALL_PROXY": "http://p:1"}
    assert env_proxy(URL(f"https://{host}:8443"), environ) is None


def test_scheme_variables_pick_by_the_base_url_and_fall_back_to_all_proxy() -> None:
    environ = {"HTTP_PROXY": "http://plain:1", "ALL_PROXY": "http://any:2"}
    found = env_proxy(URL("https://api.example"), environ)
    assert found is not None and found.url == "http://any:2" and found.variable == "ALL_PROXY"
    found = env_proxy(URL("http://api.example"), environ)
    assert found is not None and found.url == "http://plain:1"
    found = env_proxy(URL("https://api.example"), {"https_proxy": "proxy.corp:3128"})
    assert found == ("http://proxy.corp:3128", None, "https_proxy")  # curl's host:port
    cgi = {"HTTP_PROXY": "http://injected:1", "REQUEST_METHOD": "GET"}
    assert env_proxy(URL("http://api.example"), cgi) is None  # httpoxy: a client's header
