"""A body's invoices as msgspec structs, each organization's exact text parsed once.

msgspec (a C JSON parser) decodes the invoice list into structs of the invoice's and the
organization's fields (any JSON value each, checked later by the builders' reads;
unknown fields left out): faster than dicts to make, read and free. The builders read
them by attribute (`_build.build_wire_invoice`).

The API repeats an invoice's organization (~2 KB, 53 fields) in every invoice: 90% of a
large body. Where texts repeat (`texts_repeat`), ``organization`` is first typed as
`msgspec.Raw`, which hands back each organization's exact bytes wherever they sit,
whatever the key order, the whitespace, the fields nested inside. Equal texts are found
by comparing whole texts (a memcmp, stopping at the first byte that differs): with the
previous invoice's, then with the few known texts of the same length, and only past
those by a dict on the bytes (a hash of all of them). Each distinct text is decoded
once, so the invoices of one organization hold the very same struct, which
`_build` then recognises by identity.
"""

from __future__ import annotations

import functools
from typing import Any, Final

import attrs

from ._build import fields
from ._models import Invoice, Organization

__all__ = ["texts_repeat", "wire_invoices"]

# Known texts compared one by one per length, before the dict on their bytes takes over.
_PER_LENGTH: Final = 4


@functools.cache
def _decoders() -> tuple[Any, Any, Any]:
    """msgspec's decoders, built at first use (msgspec loads lazily): the invoice list with
    its organizations as texts, the invoice list whole, and one organization.

    Every field is under its wire name, any JSON value (absent: None). Not tracked by the
    garbage collector: they hold parsed JSON, which cannot refer back to them.
    """
    import msgspec

    def struct(name: str, model: type, organization: Any = None) -> Any:
        specs = [
            (f.wire, organization) if attrs.has(f.type) else (f.wire, Any, None)
            for f in fields(model)
        ]
        return msgspec.defstruct(name, specs, kw_only=True, gc=False)

    wire_organization = struct("WireOrganization", Organization)
    texts = struct("WireInvoiceText", Invoice, msgspec.Raw)
    whole = struct("WireInvoice", Invoice, wire_organization)
    return (
        msgspec.json.Decoder(list[texts]).decode,  # type: ignore[valid-type]
        msgspec.json.Decoder(list[whole]).decode,  # type: ignore[valid-type]
        msgspec.json.Decoder(wire_organization).decode,
    )


def wire_invoices(body: bytes | str, texts_repeat: bool) -> list[Any] | None:
    """The invoices of ``body`` as msgspec structs; or None.

    None when the body is not a list of invoice objects, each with an ``organization``
    object, that msgspec reads: the caller then parses the body plainly, and words the
    error. With ``texts_repeat``, equal organization texts are decoded once (one struct).
    """
    by_texts, whole, _ = _decoders()
    try:
        if body.__class__ is bytes and not body.isascii():
            # msgspec checks the UTF-8 of what it decodes, not of what it skips (unknown
            # fields): the body as ``json.loads`` reads bytes, or the plain parse words it
            body.decode("utf-8", "surrogatepass")
        return _shared(by_texts(body)) if texts_repeat else whole(body)
    except Exception:  # malformed, not the documented shape, out of msgspec's range
        return None


def _shared(wire: list[Any]) -> list[Any]:
    """``wire``'s organization texts replaced by their structs, one per distinct text."""
    by_length: dict[int, list[tuple[Any, Any]]] = {}
    by_text: dict[bytes, Any] = {}
    previous_raw: Any = None
    previous: Any = None
    for item in wire:
        raw = item.organization
        if raw != previous_raw:  # a memcmp: one organization's invoices stop here
            previous_raw = raw
            known = by_length.get(len(raw))
            if known is None:
                known = by_length[len(raw)] = []
            for text, parsed in known:
                if text == raw:
                    previous = parsed
                    break
            else:
                previous = _parsed(raw, known, by_text)
        item.organization = previous
    return wire


def _parsed(raw: Any, known: list[tuple[Any, Any]], by_text: dict[bytes, Any]) -> Any:
    """The struct of a text not among ``known`` (its length's first few): decoded, kept."""
    decode = _decoders()[2]
    if len(known) < _PER_LENGTH:
        parsed = decode(raw)
        known.append((raw, parsed))
        return parsed
    text = bytes(raw)
    parsed = by_text.get(text)
    if parsed is None:
        parsed = by_text[text] = decode(text)
    return parsed


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
