"""No form of the key gets out: partial, encoded and cut echoes are hidden before any cut.

The checks here do not reuse the redactor's own idea of an echo: `leaks` looks for any
8-character run of the key (either ASCII case), for the key's URL-encoded forms, and
decodes every base64-looking run at each alignment to look for 6 bytes of the key.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apibricks._auth import SecretKey, key_hint
from apibricks._problem import status_error
from apibricks._sanitize import MAX_SERVER_TEXT, clean, hide, redact, redact_headers
from apibricks._urls import safe_url

WINDOW = 8
KEY_ALPHABET = string.ascii_letters + string.digits + "_-.~+/=:@!$"
keys = st.text(KEY_ALPHABET, min_size=WINDOW, max_size=64)
filler = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}")


def _runs(text: str, form: str) -> bool:
    folded, form = text.lower(), form.lower()
    size = min(WINDOW, len(form))
    return any(form[i : i + size] in folded for i in range(len(form) - size + 1))


def leaks(text: str, key: str) -> bool:
    """Whether ``text`` shows 8 characters of ``key`` in a row, plain, URL-encoded or base64."""
    if _runs(text, key) or _runs(text, quote(key, safe="")):
        return True
    raw = key.encode()
    pieces = {raw[i : i + 6] for i in range(len(raw) - 5)}
    for run in _B64_RUN.findall(text):
        run = run.replace("-", "+").replace("_", "/")
        for start in range(4):
            chunk = run[start:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            try:
                decoded = base64.b64decode(chunk)
            except (binascii.Error, ValueError):
                continue
            if any(piece in decoded for piece in pieces):
                return True
    return False


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- the redactor itself --------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(key=keys, before=filler, after=filler, data=st.data())
def test_any_run_of_eight_characters_of_the_key_is_hidden(
    key: str, before: str, after: str, data: st.DataObject
) -> None:
    start = data.draw(st.integers(0, len(key) - WINDOW), label="start")
    end = data.draw(st.integers(start + WINDOW, len(key)), label="end")
    text = before + key[start:end] + after
    shown = hide(text, SecretKey(key))
    assert not _runs(shown, key)


@settings(max_examples=200, deadline=None)
@given(key=keys, prefix=st.binary(max_size=7), suffix=st.binary(max_size=7), urlsafe=st.booleans())
def test_base64_of_the_key_at_any_alignment_is_hidden(
    key: str, prefix: bytes, suffix: bytes, urlsafe: bool
) -> None:
    encoded = b64(prefix + key.encode() + suffix)
    if urlsafe:
        encoded = encoded.replace("+", "-").replace("/", "_")
    shown = hide(f"token={encoded};", SecretKey(key))
    assert not leaks(shown, key)


@settings(max_examples=200, deadline=None)
@given(key=keys, before=filler, after=filler, lower=st.booleans())
def test_url_encoded_key_is_hidden(key: str, before: str, after: str, lower: bool) -> None:
    encoded = quote(key, safe="")
    if lower:
        encoded = re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), encoded)
    assert not _runs(hide(before + encoded + after, SecretKey(key)), quote(key, safe=""))


@settings(max_examples=200, deadline=None)
@given(key=keys, before=filler, data=st.data())
def test_an_echo_straddling_the_cut_leaves_nothing(
    key: str, before: str, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(key)), label="cut")
    text = ("x" * (MAX_SERVER_TEXT - cut)) + key + before
    assert not _runs(clean(text, secret=SecretKey(key)), key)


@settings(max_examples=100, deadline=None)
@given(key=keys, depth=st.integers(1, 6), data=st.data())
def test_echoes_in_nested_arrays_and_object_keys_are_hidden(
    key: str, depth: int, data: st.DataObject
) -> None:
    start = data.draw(st.integers(0, len(key) - WINDOW), label="start")
    part = key[start : start + data.draw(st.integers(WINDOW, len(key) - start), label="n")]
    value: Any = {"errors": [f"bad {part}", {part: [part]}]}
    for _ in range(depth):
        value = {"errors": [value, {"key": b64(key.encode())}]}
    shown = json.dumps(redact(value, SecretKey(key)))
    assert not leaks(shown, key)


def test_a_short_key_is_hidden_whole() -> None:
    secret = SecretKey("abc12")
    assert hide("xxabc12yy abc1", secret) == f"xx{key_hint(secret)}yy abc1"


def test_text_without_an_echo_is_returned_as_is() -> None:
    key = "sk_live_" + "9" * 24
    text = "sk_live and 9999999 and nothing else " * 100  # 7 characters in a row at most
    assert hide(text, SecretKey(key)) == text


def test_a_long_text_is_redacted_fast_enough_to_be_done_everywhere() -> None:
    """Not a timing: the work is bounded by construction (lookups per 4 characters)."""
    key = "sk_live_0123456789abcdefghij"
    text = ("a" * 30 + key[:9]) * 1700  # 66 KB, an echo every 39 characters
    shown = hide(text, SecretKey(key))
    assert not _runs(shown, key) and shown.count(key_hint(SecretKey(key))) == 1700


# --- status errors: message, .body, .headers, .request_id ------------------------------


def echo_sites(key: str, part: str) -> tuple[dict[str, str], bytes]:
    """Headers and a problem body echoing ``part`` of ``key`` everywhere a server can."""
    headers = {
        "X-Request-Id": key[:-3],
        "X-Echo": f"k={part}",
        f"X-{b64(key.encode())[:20]}": "name",
        "Location": f"/v2/{quote(key, safe='')}/paid",
    }
    problem = {
        "title": f"Bad key {part}",
        "detail": "y" * (MAX_SERVER_TEXT - 5) + key,
        "traceId": key[:-2],
        "errors": [[{"key": part}], {part: ["x"]}],
        "basic": b64(b"user:" + key.encode()),
    }
    return headers, json.dumps(problem).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=keys, data=st.data())
def test_status_errors_show_no_form_of_the_key(key: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(key) - WINDOW), label="start")
    part = key[start : start + data.draw(st.integers(WINDOW, len(key) - start), label="n")]
    headers, body = echo_sites(key, part)
    error = status_error(400, headers, body, secret=SecretKey(key))
    assert not leaks(str(error), key)
    assert not leaks(repr(error), key)
    assert not leaks(json.dumps(error.body), key)
    assert not leaks(repr(list(error.headers.items())), key)
    assert error.request_id is not None and not leaks(error.request_id, key)


@pytest.mark.parametrize("cut_at", [1, 20, 41])
def test_a_text_body_is_redacted_before_it_is_cut(cut_at: int) -> None:
    key = "sk_live_" + "Q" * 34  # 42 characters, as in the issue
    text = "z" * (2000 - cut_at) + key + "tail"
    error = status_error(502, {}, text.encode(), secret=SecretKey(key))
    assert not _runs(error.body, key)
    assert not _runs(str(error), key)


def test_aiohttp_style_overlong_header_answer_hides_the_key_prefix() -> None:
    key = "sk_live_" + "k" * 9000
    body = f"400, message:\n  Got more than 8190 bytes when reading: b'{key[:100]}...'"
    error = status_error(400, {}, body.encode(), secret=SecretKey(key))
    assert not _runs(str(error), key) and "Got more than 8190 bytes" in str(error)


def test_redacted_headers_keep_every_value() -> None:
    key = "sk_live_headers_0123456789"
    from multidict import CIMultiDict

    headers = CIMultiDict([("X-A", key[:10]), ("x-a", "plain")])
    shown = redact_headers(headers, SecretKey(key))
    assert shown.getall("x-a") == [key_hint(SecretKey(key)), "plain"]


# --- URLs -----------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(key=st.text(string.ascii_letters + string.digits, min_size=WINDOW, max_size=40))
def test_a_key_in_a_url_path_or_host_name_is_hidden(key: str) -> None:
    secret = SecretKey(key)
    for url in (
        f"https://api.example.com/v2/{key}/paid",
        f"https://api.example.com/v2/{quote(key[2:])}/paid?x=1",
        f"https://{key.lower()}.evil.example/x",  # host names come back lower-cased
        f"https://{key[1:]}.evil.example:8443/",
    ):
        assert not leaks(safe_url(url, secret), key), url
