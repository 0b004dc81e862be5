"""Streamed decoding gives what decoding the whole body gives: values, sharing and errors."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apibricks import DecodeError, Invoice, ResponseTooLargeError, sandbox
from apibricks._converter import decode_invoices
from apibricks._invoice_stream import InvoiceStream
from tests.test_converter import _layouts, raw_invoice, with_org


def streamed(body: bytes, sizes: list[int], **kwargs: Any) -> list[Invoice]:
    stream = InvoiceStream(**kwargs)
    out: list[Invoice] = []
    position = 0
    for size in sizes:
        out += stream.feed(body[position : position + size])
        position += size
    out += stream.feed(body[position:])
    return out + stream.finish()


def outcome(decode: Any) -> list[Invoice] | str:
    try:
        return list(decode())
    except DecodeError as error:
        return f"DecodeError: {error}"


def organizations(data: list[dict[str, Any]]) -> int:
    return len({json.dumps(raw["organization"], sort_keys=True) for raw in data})


_CHUNKS = st.lists(st.integers(1, 4096), max_size=60)


def _bodies() -> dict[str, bytes]:
    one = [raw_invoice(index) for index in range(60)]
    many = [
        with_org(raw_invoice(index), id=f"{index % 7:08d}-0000-4000-8000-000000000000")
        for index in range(60)
    ]
    bodies = {f"one org, {name}": text.encode() for name, text in _layouts(one).items()}
    bodies.update({f"7 orgs, {name}": text.encode() for name, text in _layouts(many).items()})
    bodies["sandbox"] = sandbox.make_invoices_payload("sk_sandbox_stream", 200)
    bodies["sandbox aspnet"] = sandbox.make_invoices_payload("sk_sandbox_stream~aspnet", 200)
    bodies["empty"] = b"[]"
    bodies["empty, spaced"] = b" [ \r\n ] \n"
    return bodies


BODIES = _bodies()


@pytest.mark.parametrize("name", list(BODIES))
@settings(max_examples=15, deadline=None)
@given(sizes=_CHUNKS)
def test_every_layout_in_any_chunks_equals_the_whole_body(name: str, sizes: list[int]) -> None:
    body = BODIES[name]
    whole = decode_invoices(body)
    invoices = streamed(body, sizes)
    assert invoices == whole
    shared = {id(invoice.organization) for invoice in invoices}
    assert len(shared) == len({id(invoice.organization) for invoice in whole})


def test_one_byte_at_a_time() -> None:
    body = BODIES["one org, pretty"]
    assert streamed(body, [1] * len(body)) == decode_invoices(body)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("creditBalance", "organization.creditBalance: expected int, got str"),
        ("paid", "paid: expected bool, got str"),
        ("missing", "organization.id: missing required field"),
    ],
)
@pytest.mark.parametrize("bad", [0, 1, 57, 119])
def test_a_bad_invoice_is_named_by_its_index_in_the_whole_body(
    body: str, where: str, bad: int
) -> None:
    data = [raw_invoice(index) for index in range(120)]
    if body == "creditBalance":
        data[bad]["organization"]["creditBalance"] = "5000"
    elif body == "paid":
        data[bad]["paid"] = "yes"
    else:
        del data[bad]["organization"]["id"]
    text = json.dumps(data, separators=(",", ":")).encode()
    with pytest.raises(DecodeError) as whole:
        decode_invoices(text)
    for sizes in (
        [len(text)],
        [700] * 400,
        [random.Random(bad).randrange(1, 3000) for _ in range(200)],
    ):
        with pytest.raises(DecodeError) as part:
            streamed(text, sizes)
        assert str(part.value) == str(whole.value) == f"[{bad}].{where}"


@pytest.mark.parametrize(
    "body",
    [b'{"invoices": []}', b"null", b"\xef\xbb\xbf[]", b'[{"a":1}', b"[1,2]", b"[] []", b""],
)
def test_bodies_that_are_not_an_array_of_invoices_fail_as_the_whole_body_does(body: bytes) -> None:
    whole = outcome(lambda: decode_invoices(body))
    assert outcome(lambda: streamed(body, [len(body)])) == whole
    assert outcome(lambda: streamed(body, [1] * len(body))) == whole


def test_an_element_over_max_invoice_bytes_is_refused_before_it_ends() -> None:
    data = [raw_invoice(index) for index in range(3)]
    data[1]["organization"]["name"] = "x" * 100_000
    body = json.dumps(data).encode()
    stream = InvoiceStream(max_invoice_bytes=10_000)
    fed = 0
    with pytest.raises(ResponseTooLargeError, match=r"Invoice 1 .* max_invoice_bytes=10,000"):  # noqa: PT012
        while fed < len(body):
            stream.feed(body[fed : fed + 1000])
            fed += 1000
    assert fed < 20_000  # refused near the bound, not at the end of the element


def test_no_bound_takes_any_element() -> None:
    data = [raw_invoice(index) for index in range(3)]
    data[1]["organization"]["name"] = "x" * 100_000
    body = json.dumps(data).encode()
    assert streamed(body, [1000] * 200, max_invoice_bytes=None) == decode_invoices(body)


def test_invoices_come_out_as_soon_as_they_are_whole() -> None:
    data = [raw_invoice(index) for index in range(3)]
    body = json.dumps(data).encode()
    end = body.index(b'}, {"idOrganization"') + 1
    stream = InvoiceStream()
    assert stream.feed(body[:end]) == []  # the first may still go on: no comma yet
    first = stream.feed(body[end : end + 1])
    assert [invoice.invoice_number for invoice in first] == ["ABCD-0000"]


def test_the_decoder_state_is_per_stream() -> None:
    """Two streams share nothing: another body's organization is another instance."""
    body = BODIES["one org, compact"]
    a, b = streamed(body, [500] * 100), streamed(copy.copy(body), [300] * 200)
    assert a == b
    assert a[0].organization is not b[0].organization
