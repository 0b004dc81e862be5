"""A body's invoices as msgspec structs, each organization's exact text parsed once.

msgspec (a C JSON parser) decodes the invoice list into structs of the invoice's and the
organization's fields (unknown fields left out): faster than dicts to make, read and
free. Ints, bools and strings are typed, so msgspec checks them as the builders would;
timestamps and UUIDs, whose rules are the API's and not msgspec's, come as they are and
are read by the builders (`_build.build_wire_invoice`), the UUIDs all at once
(`read_uuids`). Any error, of the body or of one value, sends the caller to the plain
path, which words it.

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
import uuid
from operator import attrgetter
from typing import Any, Final

import attrs

from ._build import PARSER_CHECKED, Field, fields, is_uuid_text
from ._models import Invoice, Organization

__all__ = ["read_uuids", "texts_repeat", "wire_invoices"]

# Known texts compared one by one per length, before the dict on their bytes takes over.
_PER_LENGTH: Final = 4


class _Decoders:
    """msgspec's decoders of one strictness: the invoice list with its organizations as
    texts, the invoice list whole, and one organization.

    Every field is under its wire name: the types msgspec checks as the builders would
    (`PARSER_CHECKED`) as they are, any other JSON value as it comes (absent: None). The
    structs are not tracked by the garbage collector: they hold parsed JSON, which cannot
    refer back to them. ``strict``: an unknown field is an error, so that every byte of a
    body decoded without error went through msgspec's UTF-8 check.
    """

    def __init__(self, strict: bool) -> None:
        import msgspec

        def spec(field: Field, organization: Any) -> tuple[Any, ...]:
            if attrs.has(field.type):
                return field.wire, organization
            if field.type not in PARSER_CHECKED:
                return field.wire, Any, None
            return (field.wire, field.type) if field.required else (field.wire, field.type, None)

        def struct(name: str, model: type, organization: Any = None) -> Any:
            specs = [spec(field, organization) for field in fields(model)]
            return msgspec.defstruct(
                name, specs, kw_only=True, gc=False, forbid_unknown_fields=strict
            )

        organization = struct("WireOrganization", Organization)
        texts = struct("WireInvoiceText", Invoice, msgspec.Raw)
        whole = struct("WireInvoice", Invoice, organization)
        self.by_texts = msgspec.json.Decoder(list[texts]).decode  # type: ignore[valid-type]
        self.whole = msgspec.json.Decoder(list[whole]).decode  # type: ignore[valid-type]
        self.organization = msgspec.json.Decoder(organization).decode

    def invoices(self, body: bytes | str, texts_repeat: bool) -> list[Any]:
        if texts_repeat:
            return _shared(self.by_texts(body), self.organization)
        return self.whole(body)


@functools.cache
def _decoders(strict: bool) -> _Decoders:
    """Built at first use: msgspec loads lazily."""
    return _Decoders(strict)


@functools.cache
def _uuid_list() -> Any:
    import msgspec

    return msgspec.json.Decoder(list[uuid.UUID]).decode


def wire_invoices(body: bytes | str, texts_repeat: bool) -> list[Any] | None:
    """The invoices of ``body`` as msgspec structs; or None.

    None when the body is not a list of invoice objects, each with an ``organization``
    object, that msgspec reads: the caller then parses the body plainly, and words the
    error. With ``texts_repeat``, equal organization texts are decoded once (one struct).

    msgspec checks the UTF-8 of what it decodes, not of what it skips (unknown fields).
    A non-ASCII body is first decoded with unknown fields refused; only a body that has
    some is checked whole, as ``json.loads`` reads bytes (an ASCII body needs neither).
    """
    try:
        if body.__class__ is bytes and not body.isascii():
            try:
                return _decoders(True).invoices(body, texts_repeat)
            except Exception:  # an unknown field (or a bad value): check what was skipped
                body.decode("utf-8", "surrogatepass")
        return _decoders(False).invoices(body, texts_repeat)
    except Exception:  # malformed, not the documented shape, out of msgspec's range
        return None


def _shared(wire: list[Any], decode: Any) -> list[Any]:
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
                previous = _parsed(raw, known, by_text, decode)
        item.organization = previous
    return wire


def _parsed(raw: Any, known: list[tuple[Any, Any]], by_text: dict[bytes, Any], decode: Any) -> Any:
    """The struct of a text not among ``known`` (its length's first few): decoded, kept."""
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


def read_uuids(wire: list[Any], cache: dict[str, uuid.UUID]) -> None:
    """Every UUID text of ``wire``'s invoices not in ``cache`` yet, built at once.

    Built one by one, by ``uuid.UUID``, a distinct UUID costs ~1.4 µs: most of a small
    invoice's cost beside its other fields. The texts of the API's shape (checked here as
    the builders check them) are joined into one JSON array that msgspec reads as
    ``list[uuid.UUID]`` in C, the same values (~0.2 µs each). Whatever is left out (not a
    text, not of the shape) the builders meet as before, and word.
    """
    texts: set[Any] = set()
    try:
        for get in _UUID_GETTERS:
            texts.update(map(get, wire))
    except TypeError:  # an unhashable value where a UUID belongs: the builders say so
        return
    fresh = [t for t in texts if t.__class__ is str and t not in cache and is_uuid_text(t)]
    if fresh:
        built = _uuid_list()(('["' + '","'.join(fresh) + '"]').encode())
        cache.update(zip(fresh, built, strict=True))


def _uuid_paths(model: type) -> list[str]:
    """The dotted wire paths of ``model``'s UUID fields, nested models' included."""
    paths = []
    for field in fields(model):
        if field.type is uuid.UUID:
            paths.append(field.wire)
        elif attrs.has(field.type):
            paths += [f"{field.wire}.{path}" for path in _uuid_paths(field.type)]
    return paths


_UUID_GETTERS: Final = tuple(map(attrgetter, _uuid_paths(Invoice)))
