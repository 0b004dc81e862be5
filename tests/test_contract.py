"""The sandbox against its own contract: ``../shared/spec/console-openapi.json``.

The sandbox is what every other test trusts, so its answers are checked against the OpenAPI
rendering of the documentation, with a plain HTTP client (``urllib``, not the SDK) and
``jsonschema`` (Draft 2020-12, the dialect of OpenAPI 3.1) with the spec's components
resolved. Two levels:

* the spec as written (it declares types and formats, nothing required);
* stricter, what the sandbox promises on top: every documented field present, no other
  field, ``int64`` in range, ``uuid`` canonical, timestamps that ASP.NET writes (RFC 3339
  with 1-7 fractional digits, and, as System.Text.Json does for unspecified-kind
  ``DateTime``, sometimes no offset: a deliberate, documented deviation from ``date-time``).

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
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apibricks import sandbox

SPEC_PATH = Path(__file__).resolve().parents[1].parent / "shared" / "spec" / "console-openapi.json"
OPERATION = ("/invoices/paid", "get")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC_PATH.is_file():
        pytest.fail(
            f"The OpenAPI contract is missing: expected {SPEC_PATH} (the repository's "
            "../shared/spec/console-openapi.json). CI checks out ../shared beside the clone; "
            "locally, put the shared directory there too."
        )
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return loaded


def _resolved(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with ``#/components/schemas/X`` refs pointing into its own ``$defs``."""
    text = json.dumps({**schema, "$defs": spec["components"]["schemas"]})
    result: dict[str, Any] = json.loads(text.replace("#/components/schemas/", "#/$defs/"))
    return result


def _strict(schema: Any) -> Any:
    """Every declared property required, nothing undeclared allowed, int64 and ASP.NET
    timestamps checked (through formats registered below)."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _strict(value) for key, value in schema.items()}
    if "properties" in result:
        result["required"] = sorted(result["properties"])
        result["additionalProperties"] = False
    if result.get("format") == "date-time":
        result["format"] = "aspnet-date-time"
    return result


_ASPNET_TIMESTAMP = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,7})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?", re.ASCII
)
FORMATS = jsonschema.FormatChecker()


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


@pytest.fixture(scope="module")
def validators(
    spec: dict[str, Any],
) -> dict[tuple[int, str], list[jsonschema.Draft202012Validator]]:
    """(status, content type) -> [as written, strict] validators for the response body."""
    path, method = OPERATION
    responses = spec["paths"][path][method]["responses"]
    result = {}
    for status, response in responses.items():
        for content_type, media in response.get("content", {}).items():
            schema = _resolved(spec, media["schema"])
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
