"""The array cutter: any JSON array, cut into any chunks, decodes to the same elements."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apibricks._array_cutter import ArrayCutter, ElementTooLargeError

# Strings that look like structure: a cut inside them must never be taken.
_TRICKY = st.sampled_from(['},{"a":1}', "},{", "]", "[", '\\"},{', "\\", '"', ",", "{}"])
_TEXT = st.one_of(st.text(max_size=8), _TRICKY)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), _TEXT)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)),
    max_leaves=12,
)
_ELEMENTS = st.dictionaries(_TEXT, _VALUES, max_size=5)


def _encode(elements: list[Any], style: int) -> bytes:
    if style == 0:
        return orjson.dumps(elements)
    if style == 1:
        return json.dumps(elements, indent=2).encode()
    return b" \r\n\t" + json.dumps(elements, separators=(" , ", " : ")).encode() + b"\n"


def _cut_all(body: bytes, sizes: list[int], limit: int | None = None) -> list[Any]:
    cutter: ArrayCutter[list[Any]] = ArrayCutter(orjson.loads, limit)
    out: list[Any] = []
    position = 0
    for size in sizes:
        if position >= len(body):
            break
        part = cutter.feed(body[position : position + size])
        position += size
        out += part or []
    if position < len(body):
        out += cutter.feed(body[position:]) or []
    return out + cutter.finish()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_ELEMENTS, max_size=12),
    st.integers(0, 2),
    st.lists(st.integers(1, 64), min_size=1, max_size=200),
)
def test_any_array_in_any_chunks_decodes_to_the_same_elements(
    elements: list[Any], style: int, sizes: list[int]
) -> None:
    body = _encode(elements, style)
    assert _cut_all(body, sizes) == elements


@settings(max_examples=50, deadline=None)
@given(st.lists(_ELEMENTS, min_size=1, max_size=6), st.integers(1, 7))
def test_each_byte_alone(elements: list[Any], style: int) -> None:
    body = _encode(elements, style % 3)
    assert _cut_all(body, [1] * len(body)) == elements


def test_runs_come_out_before_the_end() -> None:
    """Whole elements are decoded as soon as a later one starts, not at the end."""
    cutter: ArrayCutter[list[Any]] = ArrayCutter(orjson.loads, None)
    assert cutter.feed(b'[{"a":1},{"a":2},{"a"') == [{"a": 1}, {"a": 2}]
    assert cutter.feed(b":3},") == [{"a": 3}]
    assert cutter.feed(b'{"a":[{"b":1},{"b":2}]}') is None  # the array has not ended yet
    assert cutter.feed(b"]") is None
    assert cutter.finish() == [{"a": [{"b": 1}, {"b": 2}]}]


def test_an_element_over_the_bound_is_refused_before_it_ends() -> None:
    cutter: ArrayCutter[list[Any]] = ArrayCutter(orjson.loads, 1000)
    assert cutter.feed(b'[{"a":1},{"b":"') == [{"a": 1}]
    fed = 0
    with pytest.raises(ElementTooLargeError):  # noqa: PT012 - fed until refused
        while fed < 2000:
            cutter.feed(b"x" * 100)
            fed += 100
    assert fed <= 1000


def test_not_an_array_is_decoded_whole_at_the_end() -> None:
    cutter: ArrayCutter[Any] = ArrayCutter(orjson.loads, None)
    assert cutter.feed(b' {"a": ') is None
    assert cutter.feed(b"1}") is None
    assert cutter.finish() == {"a": 1}


def test_a_genuine_decoder_error_propagates() -> None:
    def decode(run: bytes) -> list[Any]:
        data = orjson.loads(run)
        if any(element.get("bad") for element in data):
            raise ValueError("bad element")
        return list(data)

    cutter: ArrayCutter[list[Any]] = ArrayCutter(decode, None)
    assert cutter.feed(b'[{"a":1},{"bad":') == [{"a": 1}]
    with pytest.raises(ValueError, match="bad element"):
        cutter.feed(b'true},{"a":2}')
