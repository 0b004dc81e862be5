"""A body's invoices with each organization's exact text found by a parser, parsed once.

The API repeats an invoice's organization (~2 KB, 53 fields) in every invoice: 90% of a
large body. msgspec (a C JSON parser) decodes the invoice list with ``organization``
typed as `msgspec.Raw`, which hands back each organization's exact bytes wherever they
sit, whatever the key order, the whitespace, the fields nested inside. Texts are
deduplicated on their whole bytes (a dict: hash and memcmp in C; one memcmp when the
text equals the previous one) and each distinct text is parsed once by orjson, so the
invoices of one organization hold the very same dict, which `_build.organization` then
recognises by identity. Bodies whose texts do not repeat (`texts_repeat`) are better left
to one plain parse.
"""

from __future__ import annotations

import functools
from typing import Any, Final

import attrs
import orjson

from ._build import fields
from ._models import Invoice

__all__ = ["invoice_dicts", "texts_repeat"]


@functools.cache
def _decoder() -> Any:
    """msgspec's decoder of ``list[WireInvoice]``, built at first use (msgspec loads lazily).

    ``WireInvoice`` has the invoice's fields under their wire names, any JSON value each
    (checked later, by the same builders as every other path), absent ones None, and the
    organization as its raw text, required.
    """
    import msgspec

    specs: list[Any] = [
        (f.wire, msgspec.Raw) if attrs.has(f.type) else (f.wire, Any, None) for f in fields(Invoice)
    ]
    wire_invoice = msgspec.defstruct("WireInvoice", specs, kw_only=True)
    decoder: Any = msgspec.json.Decoder(list[wire_invoice])  # type: ignore[valid-type]
    return decoder.decode, msgspec.structs.asdict


def invoice_dicts(body: bytes | str) -> list[dict[str, Any]] | None:
    """The invoices of ``body`` as dicts, equal organization texts as one dict; or None.

    None when the body is not a list of invoice objects each with an ``organization`` that
    both parsers read alike: the caller then parses the body plainly, and words the error.
    The dicts equal ``json.loads(body)``'s but for unknown invoice fields (left out) and
    absent optional ones (None): what the builders read alike.
    """
    decode, asdict = _decoder()
    try:
        wire = decode(body)
    except Exception:  # malformed, not the documented shape, out of msgspec's range
        return None
    texts: dict[bytes, Any] = {}
    previous_raw: Any = None
    previous: Any = None
    loads = orjson.loads
    result: list[dict[str, Any]] = []
    append = result.append
    try:
        for item in wire:
            raw = item.organization
            if raw != previous_raw:  # a memcmp: one organization's invoices skip the hash
                text = bytes(raw)
                previous = texts.get(text)
                if previous is None:
                    previous = texts[text] = loads(text)
                previous_raw = raw
            invoice = asdict(item)
            invoice["organization"] = previous
            append(invoice)
    except orjson.JSONDecodeError:  # a text msgspec took and orjson not (NaN, 1e400)
        return None
    return result


_KEY: Final[dict[type, Any]] = {bytes: b'"organization"', str: '"organization"'}


def texts_repeat(body: bytes | str) -> bool:
    """Whether organization texts seem to repeat: a guess that picks the way, never the result.

    Where nothing repeats (one organization per invoice; keys in a new order in every
    object) one plain parse is cheaper than finding each text. The first 64 characters
    after the first few hundred ``"organization"`` keys tell, wherever they sit; a wrong
    guess costs time only: either way decodes the same.
    """
    key = _KEY[body.__class__]
    find: Any = body.find
    heads = set()
    seen = scan = 0
    while seen < 256 and (hit := find(key, scan)) >= 0:
        scan = hit + 14
        heads.add(body[scan : scan + 64])
        seen += 1
    return seen - len(heads) >= len(heads)
