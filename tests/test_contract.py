"""The sandbox against its own contract: the OpenAPI document it ships (``sandbox.openapi_spec()``).

The sandbox is what every other test trusts, so its answers are checked against the OpenAPI
rendering of the documentation, with a plain HTTP client (``urllib``, not the SDK) and
``jsonschema`` (Draft 2020-12, the dialect of OpenAPI 3.1) with the spec's components
resolved. Two levels:

* the spec as written (it declares types and formats, nothing required);
* stricter, what the sandbox promises on top: every documented field present, no other
  field, ``int64`` in range, ``uuid`` canonical, timestamps in UTC spelled with ``Z``.

Formats are always checked: ``date-time`` by jsonschema's checker, which needs
``rfc3339-validator`` (in the ``test`` dependency group; its absence fails, never skips).
The ``aspnet`` fault item's timestamps (no offset, ``0001-01-01``: what ASP.NET really
sends) are checked against their own looser format, and must fail ``date-time``.

Bodies for many organization names and invoice counts (hypothesis), the 401, 4xx/5xx fault
answers and 429 (problem+json, ``Retry-After``) are validated; ``wrongtype`` and a body with
an undocumented field must fail validation (the validator bites).

(schemathesis installs here, but the one operation has no parameters besides the API key, so
its generated cases would all be 401s; these targeted checks cover more of the contract.)
"""

from __future__ import annotations

import copy
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apibricks import sandbox

OPERATION = ("/invoices/paid", "get")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return sandbox.openapi_spec()


def _resolved(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with ``#/components/schemas/X`` refs pointing into its own ``$defs``."""
    text = json.dumps({**schema, "$defs": spec["components"]["schemas"]})
    result: dict[str, Any] = json.loads(text.replace("#/components/schemas/", "#/$defs/"))
    return result


def _strict(schema: Any, timestamp_format: str = "utc-date-time") -> Any:
    """Every declared property required, nothing undeclared allowed, int64 checked, and
    timestamps checked as ``timestamp_format`` (formats registered below)."""
    if isinstance(schema, list):
        return [_strict(item, timestamp_format) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _strict(value, timestamp_format) for key, value in schema.items()}
    if "properties" in result:
        result["required"] = sorted(result["properties"])
        result["additionalProperties"] = False
    if result.get("format") == "date-time":
        result["format"] = timestamp_format
    return result


_ASPNET_TIMESTAMP = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,7})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?", re.ASCII
)
FORMATS = jsonschema.FormatChecker()  # every format whose checker is installed
# Without rfc3339-validator jsonschema silently accepts any "date-time": refuse to run so.
assert "date-time" in FORMATS.checkers, "install rfc3339-validator (the test group has it)"


@FORMATS.checks("utc-date-time")
def _utc_date_time(value: object) -> bool:
    """RFC 3339 ``date-time`` (the standard checker) in UTC, written with ``Z``."""
    if not isinstance(value, str):
        return True
    return FORMATS.conforms(value, "date-time") and value.endswith("Z")


@FORMATS.checks("aspnet-date-time", raises=ValueError)
def _aspnet_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _ASPNET_TIMESTAMP.fullmatch(value):
        return False
    datetime.fromisoformat(value[:19])  # a real calendar date and time, or ValueError
    return True


@FORMATS.checks("int64")
def _int64(value: object) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


@FORMATS.checks("uuid")
def _canonical_uuid(value: object) -> bool:
    pattern = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    return not isinstance(value, str) or re.fullmatch(pattern, value) is not None


def _body_schema(spec: dict[str, Any], status: int, content_type: str) -> dict[str, Any]:
    path, method = OPERATION
    media = spec["paths"][path][method]["responses"][str(status)]["content"][content_type]
    return _resolved(spec, media["schema"])


@pytest.fixture(scope="module")
def validators(
    spec: dict[str, Any],
) -> dict[tuple[int, str], list[jsonschema.Draft202012Validator]]:
    """(status, content type) -> [as written, strict] validators for the response body."""
    path, method = OPERATION
    responses = spec["paths"][path][method]["responses"]
    result = {}
    for status, response in responses.items():
        for content_type in response.get("content", {}):
            schema = _body_schema(spec, int(status), content_type)
            result[int(status), content_type] = [
                jsonschema.Draft202012Validator(schema, format_checker=FORMATS),
                jsonschema.Draft202012Validator(_strict(schema), format_checker=FORMATS),
            ]
    return result


@pytest.fixture(scope="module")
def server() -> Iterator[sandbox.Sandbox]:
    served = sandbox.Sandbox()
    with served.serve_in_thread():
        yield served


def fetch(server: sandbox.Sandbox, key: str | None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(server.url + "/invoices/paid")  # type: ignore[operator]
    if key is not None:
        request.add_header("Authorization", key)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def check(
    validators: dict[tuple[int, str], list[jsonschema.Draft202012Validator]],
    status: int,
    headers: dict[str, str],
    body: bytes,
    documented_status: int | None = None,
) -> Any:
    """Validate an answer against the documented response for ``documented_status``."""
    content_type = headers["Content-Type"].split(";")[0].strip()
    key = (documented_status or status, content_type)
    assert key in validators, f"{status} {content_type}: no such response in the contract"
    data = json.loads(body)
    for validator in validators[key]:
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    return data


org_names = st.from_regex(r"[A-Za-z0-9._-]{1,40}", fullmatch=True)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(org=org_names, count=st.integers(0, 60))
def test_200_bodies_match_the_contract(
    server: sandbox.Sandbox, validators: Any, org: str, count: int
) -> None:
    key = f"sk_sandbox_{org}~n{count}"
    status, headers, body = fetch(server, key)
    assert status == 200
    data = check(validators, status, headers, body)
    assert len(data) == count
    for invoice in data:
        assert invoice["idOrganization"] == invoice["organization"]["id"]
    assert body == sandbox.make_invoices_payload(key)


def test_the_default_and_the_largest_bodies(server: sandbox.Sandbox, validators: Any) -> None:
    for key in ("sk_sandbox_demo", "sk_sandbox_big~n3000", "sk_sandbox_x~latency1~503x0"):
        status, headers, body = fetch(server, key)
        assert status == 200, body[:200]
        check(validators, status, headers, body)


@pytest.mark.parametrize(
    "key",
    [None, "", "sk_live_0123456789", "Bearer sk_sandbox_demo", "sk_sandbox_", "sk_sandbox_a b"],
)
def test_401_is_the_documented_problem_details(
    server: sandbox.Sandbox, validators: Any, key: str | None
) -> None:
    status, headers, body = fetch(server, key)
    assert status == 401
    assert headers["Content-Type"].startswith("application/problem+json")
    problem = check(validators, status, headers, body)
    assert problem["status"] == 401 and problem["title"] and problem["traceId"]


@pytest.mark.parametrize("retry", ["429", "429r0.5", "429date2", "429bare"])
def test_429_is_problem_details_with_retry_after(
    server: sandbox.Sandbox, validators: Any, retry: str
) -> None:
    status, headers, body = fetch(server, f"sk_sandbox_rate~{retry}")
    assert status == 429
    problem = check(validators, status, headers, body)
    assert problem["status"] == 429
    assert ("Retry-After" in headers) is (retry != "429bare")


@pytest.mark.parametrize("fault", ["400", "403", "404", "409", "500", "503", "nosuchfault"])
def test_undocumented_error_statuses_still_answer_problem_details(
    server: sandbox.Sandbox, validators: Any, fault: str
) -> None:
    """The contract documents 401 and 429 only; every other error keeps the same shape."""
    status, headers, body = fetch(server, f"sk_sandbox_err~{fault}")
    assert status >= 400
    problem = check(validators, status, headers, body, documented_status=401)
    assert problem["status"] == status


def test_the_validators_bite(server: sandbox.Sandbox, validators: Any, spec: Any) -> None:
    """Negative controls: what is not the contract fails it."""
    status, headers, body = fetch(server, "sk_sandbox_bite~wrongtype~n2")
    assert status == 200
    with pytest.raises(AssertionError, match="creditBalance"):
        check(validators, status, headers, body)
    status, headers, body = fetch(server, "sk_sandbox_bite~malformed")
    with pytest.raises(json.JSONDecodeError):
        check(validators, status, headers, body)
    good = json.loads(sandbox.make_invoices_payload("sk_sandbox_bite", 1))
    spoiled = [
        {**good[0], "surprise": 1},
        {**good[0], "organization": {**good[0]["organization"], "creditBalance": 2**63}},
        {**good[0], "created": "2024-13-01T00:00:00Z"},
        {**good[0], "paidDate": "2024-01-01T00:00:00+05:99"},
        {**good[0], "idOrganization": good[0]["idOrganization"].upper()},
        {key: value for key, value in good[0].items() if key != "currency"},
    ]
    strict = validators[200, "application/json"][1]
    for invoice in spoiled:
        assert not strict.is_valid([invoice]), invoice
    # The documented example itself is valid as written (its "id": "string" placeholders
    # are not uuids, so only the lenient level applies).
    path, method = OPERATION
    example = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    assert validators[200, "application/json"][0].is_valid(copy.deepcopy(example["example"]))


def test_the_packaged_spec_is_the_documented_operation(spec: dict[str, Any]) -> None:
    """The copy shipped as package data is a whole OpenAPI 3.1 document for the endpoint."""
    assert spec["openapi"].startswith("3.1")
    assert set(spec["paths"]) == {"/invoices/paid"}
    assert sandbox.openapi_spec() is not sandbox.openapi_spec()  # callers may mutate theirs


def test_date_time_is_checked_by_rfc3339(validators: Any) -> None:
    """The format check is real: offset-less and impossible timestamps fail ``date-time``."""
    lenient = validators[200, "application/json"][0]
    good = json.loads(sandbox.make_invoices_payload("sk_sandbox_fmt", 1))
    assert lenient.is_valid(good)
    for spoiled in ("2024-05-01T10:00:00.123", "2024-02-30T10:00:00Z", "2024-05-01 10:00:00Z"):
        assert not lenient.is_valid([{**good[0], "created": spoiled}]), spoiled


@pytest.mark.parametrize("org", ["asp", "org1", "org2", "org3"])
def test_aspnet_mode_sends_what_aspnet_writes(
    server: sandbox.Sandbox, spec: dict[str, Any], org: str
) -> None:
    """``~aspnet`` leaves the documented ``date-time`` (that is its point) but keeps the
    ASP.NET shape: 0-7 digits, ``Z``/``+00:00``/no offset, ``0001-01-01`` for MinValue."""
    key = f"sk_sandbox_{org}~aspnet~n40"
    status, _, body = fetch(server, key)
    assert status == 200
    assert body == sandbox.make_invoices_payload(key)
    data = json.loads(body)
    schema = _body_schema(spec, 200, "application/json")
    aspnet = jsonschema.Draft202012Validator(
        _strict(schema, "aspnet-date-time"), format_checker=FORMATS
    )
    assert not list(aspnet.iter_errors(data))
    rfc3339 = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
    assert not rfc3339.is_valid(data)  # some timestamp has no offset


def test_aspnet_mode_spells_the_same_instants(server: sandbox.Sandbox) -> None:
    plain = json.loads(fetch(server, "sk_sandbox_same~n30")[2])
    aspnet = json.loads(fetch(server, "sk_sandbox_same~aspnet~n30")[2])
    for left, right in zip(plain, aspnet, strict=True):
        for name in ("created", "paidDate", "dueDate"):
            assert left[name][:-1] == right[name].removesuffix("Z").removesuffix("+00:00")
