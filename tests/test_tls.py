"""``ssl=`` and the trust environment, against a real HTTPS server with a test CA.

The server is the sandbox behind `TLSFront` (TLS on loopback with a ``trustme`` certificate
that no trust store knows), so a client succeeds only when told to trust that CA: as a path,
a hashed directory, an ``SSLContext``, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` set while the
interpreter runs, ``APIBRICKS_CA_BUNDLE``, or ``"system"`` through truststore.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import ssl
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tls_servers import TLSFront, hashed_directory, server_context
from yarl import URL

import apibricks
from apibricks import sandbox

Facade = Callable[..., Awaitable[Any]]
LIST_PAID = lambda client: client.invoices.list_paid()  # noqa: E731
KEY = "sk_sandbox_tls_9f3b1c"


@pytest.fixture(scope="module")
def other_ca() -> trustme.CA:
    """A CA that did not sign the server's certificate."""
    return trustme.CA()


@pytest.fixture
def other_ca_file(other_ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "other-ca.pem"
    other_ca.cert_pem.write_to_path(str(path))
    return path


async def _front(sandbox_server: sandbox.Sandbox, context: ssl.SSLContext) -> TLSFront:
    assert sandbox_server.url is not None
    port = URL(sandbox_server.url).port
    assert port is not None
    server = TLSFront(port, context)
    await server.start()
    return server


# -- trusted: every way of naming the CA -------------------------------------------------


@pytest.mark.parametrize("form", ["str", "Path", "directory", "relative"])
async def test_a_ca_given_as_ssl_is_trusted(
    facade: Facade,
    front: TLSFront,
    ca: trustme.CA,
    ca_file: Path,
    form: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    value: object = {"str": str(ca_file), "Path": ca_file}.get(form)
    if form == "directory":
        value = str(hashed_directory(ca_file.parent / "hashed", ca.cert_pem.bytes()))
    if form == "relative":
        monkeypatch.chdir(ca_file.parent)
        value = ca_file.name
    invoices = await facade(LIST_PAID, api_key=KEY, base_url=front.url, ssl=value)
    assert invoices
    assert front.client_certificates  # the request went through the TLS front


async def test_an_ssl_context_is_used_as_is(
    facade: Facade, front: TLSFront, ca: trustme.CA
) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    assert await facade(LIST_PAID, api_key=KEY, base_url=front.url, ssl=context)


async def test_with_options_gives_a_view_its_own_trust(front: TLSFront, ca_file: Path) -> None:
    async with apibricks.AsyncClient(api_key=KEY, base_url=front.url, max_retries=0) as client:
        assert await client.with_options(ssl=str(ca_file)).invoices.list_paid()
        with pytest.raises(apibricks.CertificateError):
            await client.invoices.list_paid()

    def blocking() -> None:
        with apibricks.Client(api_key=KEY, base_url=front.url, max_retries=0) as client:
            assert client.with_options(ssl=ca_file).invoices.list_paid()
            with pytest.raises(apibricks.CertificateError):
                client.invoices.list_paid()

    await asyncio.to_thread(blocking)


# -- the environment, read when the client is made ---------------------------------------

# (environment, ssl keyword, trusted?) with "ca"/"other"/"dir" standing for the files.
PRECEDENCE = [
    ({}, None, False),
    ({"SSL_CERT_FILE": "ca"}, None, True),
    ({"SSL_CERT_FILE": "other"}, None, False),
    ({"SSL_CERT_DIR": "dir"}, None, True),
    ({"APIBRICKS_CA_BUNDLE": "ca"}, None, True),
    ({"APIBRICKS_CA_BUNDLE": "dir"}, None, True),
    ({"APIBRICKS_CA_BUNDLE": "ca", "SSL_CERT_FILE": "other"}, None, True),
    ({"APIBRICKS_CA_BUNDLE": "other", "SSL_CERT_FILE": "ca"}, None, False),
    ({"APIBRICKS_CA_BUNDLE": "other"}, "ca", True),
    ({"APIBRICKS_CA_BUNDLE": "ca"}, "other", False),
    ({"SSL_CERT_FILE": "ca"}, "other", False),
]


@pytest.mark.parametrize(("environment", "keyword", "trusted"), PRECEDENCE)
async def test_keyword_beats_apibricks_ca_bundle_beats_ssl_cert_vars(
    facade: Facade,
    front: TLSFront,
    ca: trustme.CA,
    ca_file: Path,
    other_ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    keyword: str | None,
    trusted: bool,
) -> None:
    files = {
        "ca": str(ca_file),
        "other": str(other_ca_file),
        "dir": str(hashed_directory(ca_file.parent / "hashed", ca.cert_pem.bytes())),
    }
    for name, which in environment.items():
        monkeypatch.setenv(name, files[which])  # at run time, long after interpreter start
    extra = {} if keyword is None else {"ssl": files[keyword]}
    call = facade(LIST_PAID, api_key=KEY, base_url=front.url, max_retries=0, **extra)
    if trusted:
        assert await call
    else:
        with pytest.raises(apibricks.CertificateError):
            await call


async def test_the_environment_is_read_when_each_client_is_made(
    front: TLSFront, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with apibricks.AsyncClient(api_key=KEY, base_url=front.url, max_retries=0) as before:
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        async with apibricks.AsyncClient(api_key=KEY, base_url=front.url) as after:
            assert await after.invoices.list_paid()
        with pytest.raises(apibricks.CertificateError):
            await before.invoices.list_paid()


# -- not trusted: one typed error, at once --------------------------------------------------


async def test_an_untrusted_certificate_is_a_certificate_error_never_retried(
    facade: Facade, front: TLSFront, sandbox_server: sandbox.Sandbox
) -> None:
    attempts: list[apibricks.HookEvent] = []
    hooks = {"request": [attempts.append], "retry": [attempts.append]}
    with pytest.raises(apibricks.CertificateError) as caught:
        await facade(LIST_PAID, api_key=KEY, base_url=front.url, max_retries=3, event_hooks=hooks)
    error = caught.value
    assert isinstance(error, apibricks.APIConnectionError)
    assert error.retryable is False
    assert [event.event for event in attempts] == ["request"]  # one attempt, no retry
    assert sandbox_server.total_requests == 0
    text = str(error)
    assert "not trusted" in text
    for advice in ("ssl=", "APIBRICKS_CA_BUNDLE", "--ca-bundle", "system"):
        assert advice in text
    assert KEY not in text and KEY not in repr(error)
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is apibricks.CertificateError and restored.retryable is False


async def test_a_wrong_host_name_is_a_certificate_error(
    facade: Facade, ca: trustme.CA, ca_file: Path, sandbox_server: sandbox.Sandbox
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("elsewhere.example").configure_cert(context)
    server = await _front(sandbox_server, context)
    try:
        with pytest.raises(apibricks.CertificateError, match="not trusted"):
            await facade(LIST_PAID, api_key=KEY, base_url=server.url, ssl=str(ca_file))
    finally:
        await server.stop()


# -- mutual TLS through an SSLContext -------------------------------------------------------


async def test_mutual_tls_with_a_client_certificate(
    facade: Facade, ca: trustme.CA, ca_file: Path, sandbox_server: sandbox.Sandbox
) -> None:
    client_ca = trustme.CA()
    server = await _front(sandbox_server, server_context(ca, client_ca=client_ca))
    try:
        context = ssl.create_default_context(cafile=str(ca_file))
        client_ca.issue_cert("billing@company.example").configure_cert(context)
        assert await facade(LIST_PAID, api_key=KEY, base_url=server.url, ssl=context)
        (seen,) = server.client_certificates
        assert seen is not None
        assert ("email", "billing@company.example") in seen["subjectAltName"]

        with pytest.raises(apibricks.BadRequestError, match="No required SSL certificate"):
            await facade(
                LIST_PAID, api_key=KEY, base_url=server.url, ssl=str(ca_file), max_retries=0
            )
        assert sandbox_server.total_requests == 1
    finally:
        await server.stop()


# -- "system": the OS trust store through truststore -------------------------------------


async def test_system_trust_uses_truststore(
    facade: Facade, front: TLSFront, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Linux truststore reads OpenSSL's default paths, which SSL_CERT_FILE points at the
    test CA here (macOS and Windows ask the OS, which no test may change)."""
    with pytest.raises(apibricks.CertificateError):
        await facade(LIST_PAID, api_key=KEY, base_url=front.url, ssl="system", max_retries=0)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    assert await facade(LIST_PAID, api_key=KEY, base_url=front.url, ssl="system")


@pytest.mark.parametrize("make", ["AsyncClient", "Client", "ClientSettings"])
def test_system_trust_without_truststore_names_the_extra(
    make: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "truststore", None)  # import truststore -> ImportError
    with pytest.raises(apibricks.ConfigurationError, match=r"apibricks\[truststore\]"):
        getattr(apibricks, make)(ssl="system")


# -- refused at construction, naming the keyword or variable ------------------------------


def _constructors() -> list[Callable[[object], object]]:
    def with_options(value: object) -> object:
        client = apibricks.AsyncClient()
        return client.with_options(ssl=value)

    def sync_with_options(value: object) -> object:
        with apibricks.Client() as client:
            return client.with_options(ssl=value)

    return [
        lambda value: apibricks.AsyncClient(ssl=value),
        lambda value: apibricks.Client(ssl=value).close(),  # type: ignore[func-returns-value]
        lambda value: apibricks.ClientSettings(ssl=value),
        with_options,
        sync_with_options,
    ]


CONSTRUCTORS = pytest.mark.parametrize(
    "construct",
    _constructors(),
    ids=["AsyncClient", "Client", "ClientSettings", "with_options", "Client.with_options"],
)


@CONSTRUCTORS
def test_false_is_refused(construct: Callable[[object], object]) -> None:
    with pytest.raises(apibricks.ConfigurationError, match=r"ssl=False is refused.*SSLContext"):
        construct(False)


@CONSTRUCTORS
@pytest.mark.parametrize("value", [None, 0, 1, b"", "", 3.5, ["ca.pem"], object()])
def test_other_values_are_refused(construct: Callable[[object], object], value: object) -> None:
    with pytest.raises(apibricks.ConfigurationError, match=r"^ssl must be"):
        construct(value)


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    (tmp / "empty-dir").mkdir(exist_ok=True)
    (tmp / "junk-dir").mkdir(exist_ok=True)
    (tmp / "junk-dir" / "0a1b2c3d.0").write_text("not a certificate\n")
    (tmp / "der.crt").write_bytes(b"\x30\x82\x01\x0a" + bytes(266))
    (tmp / "key.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"
    )
    (tmp / "broken.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
    )
    (tmp / "empty.pem").write_bytes(b"")
    return {
        "missing": (tmp / "nowhere" / "ca.pem", "cannot read"),
        "unreadable": (Path("/proc/self/mem"), "cannot read"),
        "empty directory": (tmp / "empty-dir", "no hashed certificates"),
        "directory of junk": (tmp / "junk-dir", "not a PEM CA bundle"),
        "DER, not PEM": (tmp / "der.crt", "not a PEM CA bundle"),
        "a key, not a certificate": (tmp / "key.pem", "not a PEM CA bundle"),
        "broken PEM": (tmp / "broken.pem", "not a PEM CA bundle"),
        "empty file": (tmp / "empty.pem", "not a PEM CA bundle"),
    }


BAD_FILES = ["missing", "unreadable", "empty directory", "directory of junk", "DER, not PEM"]
BAD_FILES += ["a key, not a certificate", "broken PEM", "empty file"]


@CONSTRUCTORS
@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_ca_path_fails_at_construction_naming_the_keyword(
    construct: Callable[[object], object], case: str, tmp_path: Path
) -> None:
    path, why = _bad_files(tmp_path)[case]
    with pytest.raises(apibricks.ConfigurationError) as caught:
        construct(str(path))
    assert str(caught.value).startswith("ssl: ")
    assert why in str(caught.value)


@pytest.mark.parametrize("variable", ["APIBRICKS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"])
@pytest.mark.parametrize("case", ["missing", "unreadable", "empty directory", "broken PEM"])
@pytest.mark.parametrize("make", ["AsyncClient", "Client"])
def test_a_bad_ca_variable_fails_at_construction_naming_it(
    variable: str, case: str, make: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = _bad_files(tmp_path)[case]
    if variable == "SSL_CERT_DIR" and case == "broken PEM":
        path = path.parent / "junk-dir"
    monkeypatch.setenv(variable, str(path))
    with pytest.raises(apibricks.ConfigurationError) as caught:
        getattr(apibricks, make)()  # production: https
    message = str(caught.value)
    if variable == "APIBRICKS_CA_BUNDLE":  # the ssl setting's variable
        assert message.startswith("ssl: ") and message.endswith(f"(read from ${variable})")
    else:
        assert message.startswith(f"{variable}: ")


def test_a_plain_http_sandbox_does_not_read_openssl_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenSSL's variables, left stale by another program, do not break the loopback
    sandbox, which uses no TLS (apibricks' own variable is checked like the keyword)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "gone.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "gone"))
    with sandbox.serve_in_thread() as url, apibricks.Client(api_key=KEY, base_url=url) as client:
        assert client.invoices.list_paid()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    content=st.one_of(
        st.binary(max_size=2048).filter(lambda data: b"-----BEGIN CERTIFICATE-----" not in data),
        st.binary(min_size=1, max_size=600).map(
            lambda body: (
                b"-----BEGIN CERTIFICATE-----\n"
                + __import__("base64").encodebytes(body)
                + b"-----END CERTIFICATE-----\n"
            )
        ),
    )
)
def test_any_file_that_is_not_a_pem_certificate_is_refused(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ca.pem"
        path.write_bytes(content)
        with pytest.raises(apibricks.ConfigurationError, match=r"^ssl: .* is not a PEM CA bundle"):
            apibricks.ClientSettings(ssl=path)


# -- an SSLContext does not pickle: settings record that one was given -------------------


def test_client_settings_refuse_an_ssl_context_saying_why() -> None:
    with pytest.raises(apibricks.ConfigurationError, match="pickle") as caught:
        apibricks.ClientSettings(ssl=ssl.create_default_context())
    assert "from_settings(settings, ssl=context)" in str(caught.value)


def test_a_server_side_context_is_refused() -> None:
    with pytest.raises(apibricks.ConfigurationError, match="server-side"):
        apibricks.AsyncClient(ssl=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))


@pytest.mark.parametrize("make", [apibricks.AsyncClient, apibricks.Client])
async def test_settings_of_a_client_with_a_context_pickle_and_ask_for_it_again(
    make: Any, front: TLSFront, ca: trustme.CA, ca_file: Path
) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    client = make(api_key=KEY, base_url=front.url, ssl=context)
    settings = pickle.loads(pickle.dumps(client.settings))
    assert settings.ssl == "context"
    with pytest.raises(apibricks.ConfigurationError, match=r"ssl=context"):
        make.from_settings(settings, api_key=KEY)

    async def use(rebuilt: Any) -> Any:
        if isinstance(rebuilt, apibricks.AsyncClient):
            async with rebuilt:
                return await rebuilt.invoices.list_paid()
        with rebuilt:
            return await asyncio.to_thread(rebuilt.invoices.list_paid)

    assert await use(make.from_settings(settings, api_key=KEY, ssl=context))
    if isinstance(client, apibricks.AsyncClient):
        await client.close()
    else:
        client.close()


def test_settings_record_a_path_absolute_and_pickle(
    ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ca_file.parent)
    settings = apibricks.ClientSettings(ssl=ca_file.name)
    assert settings.ssl == str(ca_file) and os.path.isabs(settings.ssl)
    assert pickle.loads(pickle.dumps(settings)) == settings
    assert apibricks.ClientSettings().ssl is True
