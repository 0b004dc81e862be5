"""OpenTelemetry (extra ``apibricks[otel]``): a span per call, a child span per attempt.

Spans are checked with the SDK's in-memory exporter; without opentelemetry installed the
client must work the same and import nothing of it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import apibricks
from apibricks import sandbox

Facade = Callable[..., Awaitable[Any]]
LIST_PAID = lambda client: client.invoices.list_paid()  # noqa: E731
EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def _provider() -> None:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the global provider can be set once only
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))


@pytest.fixture
def spans() -> Iterator[Callable[[], tuple[ReadableSpan, list[ReadableSpan]]]]:
    """After a call: its span and its attempts' spans, oldest first."""
    EXPORTER.clear()

    def finished() -> tuple[ReadableSpan, list[ReadableSpan]]:
        done = list(EXPORTER.get_finished_spans())
        calls = [s for s in done if s.kind is SpanKind.INTERNAL]
        assert len(calls) == 1, [s.name for s in done]
        call = calls[0]
        attempts = [s for s in done if s.kind is SpanKind.CLIENT]
        assert call.context is not None
        assert all(
            s.parent is not None and s.parent.span_id == call.context.span_id for s in attempts
        )
        return call, sorted(attempts, key=lambda s: s.start_time or 0)

    yield finished
    EXPORTER.clear()


async def run_python(script: str, *args: str) -> bytes:
    """``script`` in a fresh interpreter (its own view of installed extras); its stdout."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out


async def test_one_call_span_with_a_child_per_attempt(
    facade: Facade, sandbox_server: sandbox.Sandbox, spans: Any
) -> None:
    key = "sk_sandbox_traced~503r0x2"
    await facade(LIST_PAID, api_key=key)
    call, attempts = spans()
    url = f"{sandbox_server.url}/invoices/paid"
    assert call.name == "GET /invoices/paid"
    assert call.attributes is not None
    assert call.attributes["http.request.method"] == "GET"
    assert call.attributes["url.full"] == url
    assert call.attributes["http.response.status_code"] == 200
    assert call.attributes["http.request.resend_count"] == 2
    assert call.status.status_code is not StatusCode.ERROR
    assert [s.name for s in attempts] == ["GET"] * 3
    assert [s.attributes and s.attributes.get("http.response.status_code") for s in attempts] == [
        503,
        503,
        200,
    ]
    resends = [s.attributes and s.attributes.get("http.request.resend_count") for s in attempts]
    assert resends == [None, 1, 2]  # set on retries only, as the conventions say
    errors = [s.attributes and s.attributes.get("error.type") for s in attempts]
    assert errors == ["503", "503", None]
    assert [s.status.status_code for s in attempts][:2] == [StatusCode.ERROR] * 2
    for span in [call, *attempts]:
        assert span.attributes is not None
        assert span.attributes["url.full"] == url
        assert span.attributes["server.address"] == "127.0.0.1"
        assert all(key not in str(value) for value in span.attributes.values())


async def test_a_failed_call_records_error_type(facade: Facade, spans: Any) -> None:
    with pytest.raises(apibricks.AuthenticationError):
        await facade(LIST_PAID, api_key="sk_sandbox_traced_denied~401")
    call, attempts = spans()
    assert call.attributes is not None
    assert call.attributes["error.type"] == "401"
    assert call.status.status_code is StatusCode.ERROR
    assert len(attempts) == 1


async def test_a_timeout_records_the_error_class(facade: Facade, spans: Any) -> None:
    with pytest.raises(apibricks.APITimeoutError):
        await facade(LIST_PAID, api_key="sk_sandbox_traced_slow~slow2", timeout=0.2, max_retries=0)
    call, attempts = spans()
    assert call.attributes is not None and attempts[0].attributes is not None
    assert call.attributes["error.type"] == "APITimeoutError"
    assert attempts[0].attributes["error.type"] == "APITimeoutError"
    assert "http.response.status_code" not in attempts[0].attributes


async def test_without_opentelemetry_nothing_is_imported_and_calls_work(
    sandbox_url: str,
) -> None:
    script = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None  # as if the extra were not installed\n"
        "import apibricks\n"
        "with apibricks.Client(api_key='sk_sandbox_untraced', base_url=sys.argv[1]) as c:\n"
        "    print(len(c.invoices.list_paid()))\n"
    )
    out = await run_python(script, sandbox_url)
    assert int(out) > 0


async def test_import_apibricks_does_not_import_opentelemetry() -> None:
    out = await run_python("import sys, apibricks; print('opentelemetry' in sys.modules)")
    assert out.strip() == b"False"


async def test_with_the_api_but_no_sdk_provider_no_span_is_made(sandbox_url: str) -> None:
    script = (
        "import sys, apibricks\n"
        "from apibricks import _tracing\n"
        "with apibricks.Client(api_key='sk_sandbox_no_sdk', base_url=sys.argv[1]) as c:\n"
        "    c.invoices.list_paid()\n"
        "print(_tracing.tracer() is None, 'opentelemetry.trace' in sys.modules)\n"
    )
    out = await run_python(script, sandbox_url)
    assert out.split() == [b"True", b"True"]  # the API was found; its no-op placeholder skipped


async def test_too_many_redirects_records_the_last_3xx(spans: Any) -> None:
    """The call fails with the last redirect's status; its span says 302, not 0 or nothing."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    async def chain(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/x/{int(request.match_info.get('n', '-1')) + 1}")

    app = web.Application()
    app.router.add_route("GET", "/x/{n}", chain)
    app.router.add_route("GET", "/invoices/paid", chain)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        apibricks.AsyncClient(api_key="sk_traced_chain", base_url=str(server.make_url(""))) as c,
    ):
        with pytest.raises(apibricks.RedirectError, match="Too many redirects") as caught:
            await c.invoices.list_paid()
    assert caught.value.status_code == 302
    _, attempts = spans()
    assert len(attempts) == 1 and attempts[0].attributes is not None
    assert attempts[0].attributes["http.response.status_code"] == 302
