"""All (de)serialization of the models: JSON bytes <-> `Invoice` / `Organization`.

Wire names are derived from the attrs attributes (``amount_usd_cents`` -> ``amountUsdCents``),
so each field is declared once, in ``_models``. Decoding runs in up to three steps:

* `decode_invoices` first looks for the organization objects the API repeats, byte for
  byte, in every invoice (90% of a large body) and parses each distinct text once
  (`_parse_substituted`);
* a fast pass, through builders generated per model (`_builder`) that check each field's
  type inline but track no path; within one response each distinct organization is
  structured once and its instance shared (reused only when the raw dict is equal, never
  on the id alone), and each distinct UUID text read once. Nothing is kept from one
  response to the next: another response's ids are other ids;
* only if the fast pass fails, a careful pass re-walks the data with the *same* hooks,
  keeping the JSON path, and raises `DecodeError` ("[3].organization.creditBalance:
  expected int, got str").

No other exception escapes `decode_invoices` or `structure_invoices`, whatever the input.
"""

from __future__ import annotations

import json
import operator
import re
import secrets
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from itertools import repeat
from typing import Any, Final, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._exceptions import DecodeError
from ._models import Invoice, Organization
from ._timestamps import _DIGITS_TO_ZERO, _NATIVE, format_timestamp, parse_timestamp

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is the optional "speed" extra
    orjson = None  # type: ignore[assignment]

__all__ = [
    "InvoiceRuns",
    "converter",
    "decode_invoices",
    "dumps",
    "structure_invoices",
    "to_wire",
    "wire_name",
]

UTC: Final = timezone.utc
_T = TypeVar("_T")

# (model, attribute) -> wire name, for the rare field the camelCase rule cannot derive.
_WIRE_OVERRIDES: Final[dict[tuple[type, str], str]] = {}


def wire_name(model: type, attribute: str) -> str:
    """The JSON name of ``model.attribute``: camelCase of the snake_case attribute."""
    if (model, attribute) in _WIRE_OVERRIDES:
        return _WIRE_OVERRIDES[model, attribute]
    head, *rest = attribute.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class _Invalid(ValueError):
    """A value of the wrong type or shape; the careful pass adds the path."""


_KINDS: Final[dict[type, str]] = {
    dict: "object",
    list: "array",
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    type(None): "null",
}


def _got(value: Any) -> str:
    """``str`` for a wrong type; the (shortened) value itself for a bad string."""
    if type(value) is str:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "...'"
    return _KINDS.get(type(value), type(value).__name__)


# --- scalar hooks: strict (no "5" -> 5, no True -> 1, no 5.0 -> 5), fast on the happy path ---


def _int(value: Any, _: Any = None) -> int:
    if value.__class__ is int:
        return value
    raise _Invalid(f"expected int, got {_KINDS.get(type(value), type(value).__name__)}")


def _bool(value: Any, _: Any = None) -> bool:
    if value is True or value is False:
        return value
    raise _Invalid(f"expected bool, got {_KINDS.get(type(value), type(value).__name__)}")


def _optional_str(value: Any, _: Any = None) -> str | None:
    if value is None or value.__class__ is str:
        return value
    raise _Invalid(f"expected str or null, got {_KINDS.get(type(value), type(value).__name__)}")


# A UUID as the API writes it: 8-4-4-4-12 hex digits, either case. Digits translate to
# ``0``: one bytes comparison checks the shape (``uuid.UUID`` also takes braces, ``urn:``
# and no dashes; the API never sends those, and they are not what the spec documents).
_HEX_TO_ZERO: Final = bytes.maketrans(b"123456789abcdefABCDEF", b"0" * 21)
_UUID_SHAPE: Final = b"00000000-0000-0000-0000-000000000000"


def _uuid_maker() -> Callable[[str], uuid.UUID]:
    """``uuid.UUID`` of checked text, built without its parsing when this Python allows.

    ``UUID(text)`` strips ``urn:``, braces and dashes before ``int(hex, 16)``: most of its
    ~1 us. Its state is two slots (``int``, ``is_safe``); where that holds (checked here,
    on a sample) they are written directly, else ``uuid.UUID`` itself builds it.
    """
    if uuid.UUID.__dict__.get("__slots__") != ("int", "is_safe", "__weakref__"):
        return uuid.UUID  # pragma: no cover - every CPython from 3.8 to 3.14 has these slots
    new = object.__new__
    model = uuid.UUID
    set_int = model.__dict__["int"].__set__
    set_safe = model.__dict__["is_safe"].__set__
    unknown = uuid.SafeUUID.unknown

    def make(text: str) -> uuid.UUID:
        result = new(model)
        set_int(result, int(text.replace("-", ""), 16))
        set_safe(result, unknown)
        return result

    sample = "0f1E2d3c-4B5a-6978-8796-a5B4c3D2e1F0"
    made, real = make(sample), model(sample)
    if not (made == real and hash(made) == hash(real) and str(made) == str(real)):
        return model  # pragma: no cover
    if made.is_safe is not real.is_safe or made.version != real.version:
        return model  # pragma: no cover
    return make


_make_uuid: Final = _uuid_maker()


def _uuid(value: Any, _: Any = None) -> uuid.UUID:
    if value.__class__ is not str:
        raise _Invalid(f"expected UUID string, got {_got(value)}")
    # ``isascii`` first, so ``encode`` cannot fail (on a lone surrogate)
    if value.isascii() and value.encode().translate(_HEX_TO_ZERO) == _UUID_SHAPE:
        return _make_uuid(value)
    raise _Invalid(f"expected UUID, got {_got(value)}")


def _cached_uuid(cache: dict[str, uuid.UUID], value: str) -> uuid.UUID:
    """`_uuid` of a str, remembered per response: the organization's id is in every invoice."""
    if value.isascii() and value.encode().translate(_HEX_TO_ZERO) == _UUID_SHAPE:
        result = cache[value] = _make_uuid(value)
        return result
    return _uuid(value)  # raises, and says why


def _optional_timestamp(value: Any, _: Any = None) -> datetime | None:
    """A wire timestamp (`parse_timestamp`) as an aware UTC datetime, or None."""
    if value is None:
        return None
    if value.__class__ is not str:
        raise _Invalid(f"expected ISO 8601 timestamp or null, got {_got(value)}")
    try:
        return parse_timestamp(value)
    except (ValueError, OverflowError):  # bad shape, month 13, out of range once in UTC
        raise _Invalid(f"expected ISO 8601 timestamp, got {_got(value)}") from None


# --- models ---


@attrs.frozen
class _Field:
    name: str
    wire: str
    hook: Callable[[Any, Any], Any]
    required: bool


def _fields(model: type) -> tuple[_Field, ...]:
    return tuple(
        _Field(
            name=field.name,
            wire=wire_name(model, field.name),
            hook=_HOOKS[field.type],
            required=field.default is attrs.NOTHING,
        )
        for field in attrs.fields(model)
    )


class _Scratch:
    """Per-response state, handed to every builder of one response.

    ``organizations``, ``raws``: organization id -> its instance, and the raw dict it was
    built from (two dicts, not one of pairs: no tuple per organization for the GC to track).
    ``shared``: marker -> raw organization, set by `decode_invoices` when it parsed each
    repeated organization text once (see `_parse_substituted`); invoices then hold markers.
    ``instances``: marker -> its organization, structured at first use.
    ``uuids``: text -> `uuid.UUID`, the ids read so far (an invoice repeats its
    organization's). Per response, not global: another response's ids are other ids.
    """

    __slots__ = ("hits", "instances", "organizations", "raws", "shared", "uuids")

    def __init__(self, shared: dict[str, Any] | None = None, kept: _Scratch | None = None) -> None:
        # ``kept``: an earlier run of the same streamed body, whose organizations carry over.
        self.organizations: dict[Any, Organization] = {} if kept is None else kept.organizations
        self.raws: dict[Any, Any] = {} if kept is None else kept.raws
        self.shared = shared or {}
        self.instances: dict[str, Organization] = {}
        self.uuids: dict[str, uuid.UUID] = {} if kept is None else kept.uuids
        self.hits = 0

    def unshare(self, raw: Any) -> Any:
        """The raw organization ``raw`` stands for (itself, unless it is a marker)."""
        return self.shared.get(raw, raw) if raw.__class__ is str else raw


def _organization(raw: Any, scratch: _Scratch) -> Organization:
    """Structure an organization once per response; equal raw dicts share one instance."""
    if raw.__class__ is str:  # a marker (or a wrong value: ``raw["id"]`` below raises)
        instance = scratch.instances.get(raw)
        if instance is not None:
            scratch.hits += 1
            return instance
        if raw in scratch.shared:  # first use: through the id cache below, like any raw dict
            instance = scratch.instances[raw] = _organization(scratch.shared[raw], scratch)
            scratch.hits += 1
            return instance
    key = raw["id"]
    hit = scratch.organizations.get(key)
    # ``==`` equates 1, 1.0 and True; strings and null only equal themselves. So an equal
    # dict builds an equal instance once its int and bool fields have the exact types
    # (unknown fields are ignored either way): one C-level read of those fields. ``raw``
    # on the left: its entries are walked in order, the (cache-hot) known one is probed.
    if (
        hit is not None
        and raw == scratch.raws[key]
        and tuple(map(type, _NUMBERS(raw))) == _NUMBER_TYPES
    ):
        return hit
    result = scratch.organizations[key] = _build_organization(raw, scratch)
    scratch.raws[key] = raw
    return result


def _organization_hook(raw: Any, _: Any = None) -> Organization:
    """The cattrs hook: one organization alone, nothing shared."""
    return _build_organization(raw, _Scratch())


_HOOKS: Final[dict[Any, Callable[[Any, Any], Any]]] = {
    int: _int,
    bool: _bool,
    uuid.UUID: _uuid,
    str | None: _optional_str,
    datetime | None: _optional_timestamp,
    Organization: _organization_hook,
}
_FIELDS: Final[dict[type, tuple[_Field, ...]]] = {m: _fields(m) for m in (Organization, Invoice)}
# An organization's int and bool fields, read at C speed, and the types they must have.
_NUMBER_FIELDS: Final = tuple(f for f in _FIELDS[Organization] if f.hook in (_int, _bool))
_NUMBER_TYPES: Final = tuple(int if f.hook is _int else bool for f in _NUMBER_FIELDS)
_NUMBERS: Final[Callable[[Any], tuple[Any, ...]]] = (
    operator.itemgetter(*(f.wire for f in _NUMBER_FIELDS))
    if len(_NUMBER_FIELDS) > 1  # itemgetter of one key returns the value, not a tuple
    else lambda raw: tuple(raw[f.wire] for f in _NUMBER_FIELDS)
)

converter: Final = cattrs.Converter(detailed_validation=False)
"""The configured cattrs converter (strict, fast, no paths: prefer `structure_invoices`)."""


def _register(model: type[_T]) -> Callable[[Any, Any], _T]:
    """Generate and register the (un)structuring functions of ``model``, wire names derived."""
    fields = _FIELDS[model]
    structure_overrides: dict[str, Any] = {
        f.name: override(rename=f.wire, struct_hook=f.hook) for f in fields
    }
    unstructure_overrides: dict[str, Any] = {
        f.name: override(rename=f.wire, unstruct_hook=_UNSTRUCTURE.get(f.hook)) for f in fields
    }
    structure = make_dict_structure_fn(
        model, converter, _cattrs_detailed_validation=False, **structure_overrides
    )
    unstructure = make_dict_unstructure_fn(model, converter, **unstructure_overrides)
    converter.register_structure_hook(model, structure)
    converter.register_unstructure_hook(model, unstructure)
    return structure


def _timestamp_to_wire(value: datetime | None) -> str | None:
    return None if value is None else format_timestamp(value)


def _identity(value: Any) -> Any:
    return value


_UNSTRUCTURE: Final[dict[Callable[[Any, Any], Any], Callable[[Any], Any]]] = {
    _uuid: str,
    _optional_timestamp: _timestamp_to_wire,
    _optional_str: _identity,  # cattrs' own Optional handling costs a call and a check
}


def _shallow_invoice_unstructure() -> Callable[[Invoice], dict[str, Any]]:
    """For `to_wire`: an invoice's dict with the organization left as is (encoded once)."""
    overrides: dict[str, Any] = {
        f.name: override(rename=f.wire, unstruct_hook=_UNSTRUCTURE.get(f.hook))
        for f in _FIELDS[Invoice]
    }
    overrides["organization"] = override(rename="organization", unstruct_hook=_identity)
    return make_dict_unstructure_fn(Invoice, converter, **overrides)


_register(Organization)
_register(Invoice)


def _bad(message: str) -> Callable[[Any], Any]:
    def fail(value: Any) -> Any:
        raise _Invalid(f"{message}, got {_got_kind(value)}")

    return fail


# Timestamp shapes this Python's ``fromisoformat`` reads as RFC 3339 *and* returns in UTC
# (``...Z``): `parse_timestamp`'s first branch, inlined for the usual value.
_UTC_SHAPES: Final = frozenset(shape for shape in _NATIVE if shape.endswith(b"Z"))

# How the generated builders read one field: a Python expression of ``o`` (the raw dict)
# and ``u`` (the response's UUIDs), checks inlined so the usual value costs no call. Any
# failure (a wrong type, a missing key, ``o`` not a dict) raises, and the careful pass
# says where and why.
_READ: Final[dict[Callable[[Any, Any], Any], str]] = {
    _int: "(v if (v := o[{wire!r}]).__class__ is int else _bad_int(v))",
    _bool: "(v if (v := o[{wire!r}]) is True or v is False else _bad_bool(v))",
    _optional_str: "(v if (v := o.get({wire!r})) is None or v.__class__ is str else _bad_str(v))",
    _optional_timestamp: (
        "(None if (v := o.get({wire!r})) is None else _fromisoformat(v)"
        " if v.__class__ is str and v.encode().translate(_ZERO) in _UTC_SHAPES else _timestamp(v))"
    ),
    _uuid: (
        "((u.get(v) if (v := o[{wire!r}]).__class__ is str else _uuid(v)) or _cached_uuid(u, v))"
    ),
    _organization_hook: "_organization(o[{wire!r}], s)",
}


def _builder(model: type[_T]) -> Callable[[Any, _Scratch], _T]:
    """Generate ``build(o, s) -> model``: each field read as `_READ` says, straight into its slot.

    The fast pass of `_structure` (``s`` is the response's `_Scratch`); what cattrs'
    generated function does, minus the intermediate dict and a function call per plain
    field. Where attrs' ``__init__`` does nothing but store (`_slot_setters`), the slots are
    written directly: a 53-keyword call costs more than the fields' checks. Best by plain
    attribute stores on a `_draft` instance (the interpreter's fastest store), else by
    calling each slot's descriptor.
    """
    for field in _FIELDS[model]:  # an absent optional field reads as None: its default
        assert field.required or attrs.fields_dict(model)[field.name].default is None  # type: ignore[arg-type]
    reads = [_READ[f.hook].format(wire=f.wire) for f in _FIELDS[model]]
    namespace: dict[str, Any] = {
        "model": model,
        "_new": object.__new__,
        "_bad_int": _bad("expected int"),
        "_bad_bool": _bad("expected bool"),
        "_bad_str": _bad("expected str or null"),
        "_timestamp": _optional_timestamp,
        "_fromisoformat": datetime.fromisoformat,
        "_ZERO": _DIGITS_TO_ZERO,
        "_UTC_SHAPES": _UTC_SHAPES,
        "_uuid": _uuid,
        "_cached_uuid": _cached_uuid,
        "_organization": _organization,
    }
    head = "def build(o, s):\n    u = s.uuids\n"
    setters = _slot_setters(model)
    draft = None if setters is None else _draft(model)
    if setters is None:
        arguments = "".join(
            f"        {f.name}={r},\n" for f, r in zip(_FIELDS[model], reads, strict=True)
        )
        source = f"{head}    return model(\n{arguments}    )\n"
    elif draft is not None:
        fields, extra = setters
        names = [f.name for f in _FIELDS[model]] + ["_attrs_cached_hash"] * len(extra)
        values = [*reads, *["None"] * len(extra)]
        body = "".join(f"    self.{n} = {v}\n" for n, v in zip(names, values, strict=True))
        body += "    self.__class__ = model\n"
        source = f"{head}    self = _new(draft)\n{body}    return self\n"
        namespace["draft"] = draft
    else:
        fields, extra = setters
        body = "".join(f"    _set_{i}(self, {read})\n" for i, read in enumerate(reads))
        body += "".join(f"    _clear_{i}(self, None)\n" for i in range(len(extra)))
        source = f"{head}    self = _new(model)\n{body}    return self\n"
        namespace.update({f"_set_{i}": setter for i, setter in enumerate(fields)})
        namespace.update({f"_clear_{i}": setter for i, setter in enumerate(extra)})
    exec(compile(source, f"<apibricks build {model.__name__}>", "exec"), namespace)
    return namespace["build"]  # type: ignore[no-any-return]


# Whether a GIL serialises this interpreter (False on free-threaded CPython, 3.13+).
_GIL: Final[bool] = bool(getattr(sys, "_is_gil_enabled", lambda: True)())


def _draft(model: type) -> type | None:
    """A mutable subclass of ``model`` adding nothing, or None where it would not pay.

    A frozen attrs class refuses ``self.x = v``; its ``__init__`` and `_slot_setters` go
    through a descriptor call per field (~45 ns). The draft restores ``object``'s
    ``__setattr__`` and ``__delattr__``, so CPython specialises each store to a direct slot
    write (~5 ns); ``__class__`` is then switched to ``model`` (same layout, one check),
    and no draft instance ever leaves the builder. Free-threaded builds stop every thread
    on a ``__class__`` assignment: there, the descriptor calls.
    """
    if not _GIL:
        return None  # pragma: no cover - free-threaded CPython
    namespace = {
        "__slots__": (),
        "__setattr__": object.__setattr__,
        "__delattr__": object.__delattr__,
        "__module__": __name__,
    }
    draft = type(f"_{model.__name__}Draft", (model,), namespace)
    probe: Any = object.__new__(draft)
    try:
        probe.__class__ = model
    except TypeError:  # pragma: no cover - a layout CPython would not switch
        return None
    return draft


def _slot_setters(model: type) -> tuple[list[Any], list[Any]] | None:
    """The slot writers of ``model``'s fields and of its hash cache (set to None), or None.

    None unless attrs' ``__init__`` only stores its arguments: slotted, no validators,
    converters or pre/post-init hooks, no slot it does not know. `tests/test_converter.py`
    checks the instances built this way equal, hash and pickle like ``model(**kw)``'s.
    """
    if "__slots__" not in model.__dict__ or any(
        hasattr(model, hook) for hook in ("__attrs_pre_init__", "__attrs_post_init__")
    ):
        return None
    fields = attrs.fields(model)
    if any(f.validator is not None or f.converter is not None for f in fields):
        return None
    names = [f.name for f in fields]
    slots = [s for s in model.__dict__["__slots__"] if s != "__weakref__"]
    extra = [s for s in slots if s not in names]
    if extra not in ([], ["_attrs_cached_hash"]) or len(slots) - len(extra) != len(names):
        return None
    return [model.__dict__[n].__set__ for n in names], [model.__dict__[s].__set__ for s in extra]


_build_organization: Final = _builder(Organization)
_build_invoice: Final = _builder(Invoice)
_unstructure_invoice_shallow: Final = _shallow_invoice_unstructure()


# --- decoding ---


def decode_invoices(body: bytes | str) -> list[Invoice]:
    """Decode a ``GET /invoices/paid`` body; any malformation is a `DecodeError`.

    The result is exactly ``structure_invoices(json.loads(body))``, whatever the layout.
    """
    return _decode(body, None)


class InvoiceRuns:
    """Decodes the successive runs of one streamed body (see `_array_cutter`).

    What one response shares (an organization's instance, its raw dict, its UUIDs) is kept
    from run to run, so a streamed body's invoices share instances as `decode_invoices`'
    do; nothing is kept beyond the body.
    """

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept = _Scratch()

    def __call__(self, run: bytes) -> list[Invoice]:
        return _decode(run, self._kept)


def _decode(body: bytes | str, kept: _Scratch | None) -> list[Invoice]:
    try:
        substituted = _parse_substituted(body)
    except Exception:  # not the usual shape: the plain parse decides
        substituted = None
    if substituted is not None:
        data, shared, count = substituted
        scratch = _Scratch(shared, kept)
        try:
            invoices = _structure(data, scratch)
        except DecodeError:  # the plain path below words the error
            pass
        else:
            if scratch.hits == count:  # every substitution was an invoice's organization
                return invoices
    try:
        return _structure(_loads(body), _Scratch(None, kept))
    except DecodeError as exc:
        error = exc
    if orjson is None or "got float" not in error.message:
        raise error
    # orjson turns integers beyond 64 bits into floats: the stdlib parser has the last word.
    try:
        data = json.loads(body)
    except Exception:
        raise error from None
    return _structure(data, _Scratch(None, kept))


# After a key "organization": the colon, up to the ``{`` of its value. A real key's opening
# quote follows ``{``, ``,`` or whitespace; inside a string every quote follows a backslash.
_ORGANIZATION_KEY: Final[dict[type, Any]] = {bytes: b'"organization"', str: '"organization"'}
_BEFORE_KEY: Final[dict[type, Any]] = {bytes: frozenset(b"{, \t\r\n"), str: frozenset("{, \t\r\n")}
_TO_VALUE: Final[dict[type, Any]] = {
    bytes: re.compile(rb"[ \t\r\n]*:[ \t\r\n]*(?=\{)").match,
    str: re.compile(r"[ \t\r\n]*:[ \t\r\n]*(?=\{)").match,
}
# Below this size (a few dozen invoices) one plain parse is cheaper than finding repeats.
_SMALL: Final = 64 * 1024
_FLAT: Final = frozenset({str, int, float, bool, type(None)})


def _parse_substituted(body: bytes | str) -> tuple[Any, dict[str, Any], int] | None:
    """Parse ``body`` with each organization's text parsed once, wherever it sits.

    The API repeats an invoice's organization, byte for byte, in every invoice: 90% of a
    large body. Each ``"organization": {...}`` value is replaced by a random marker string,
    one per distinct text, before parsing; each text is parsed alone, once. Nothing here
    depends on layout (key order, whitespace, new fields): a text is the object up to its
    first ``}``, kept only if it parses alone to a flat object (a ``}`` inside a string
    leaves a prefix that does not parse), and a repeat is the same bytes (``startswith``,
    a memcmp). Returns the parsed body, marker -> raw organization and the number of
    substitutions, or None. The caller confirms each substitution came back as the value
    of some invoice's ``organization`` and otherwise parses ``body`` plainly.
    """
    kind = body.__class__
    if orjson is None or kind not in _TO_VALUE or len(body) < _SMALL:
        return None
    key, before_key, to_value = _ORGANIZATION_KEY[kind], _BEFORE_KEY[kind], _TO_VALUE[kind]
    if not _heads_repeat(body, key, before_key, to_value):
        return None
    prefix = f"apibricks-organization-{secrets.token_hex(16)}-"
    shared: dict[str, Any] = {}
    known: dict[Any, tuple[Any, Any]] = {}  # first 64 characters -> (text, quoted marker)
    pieces: list[Any] = []
    position = scan = count = 0
    find: Any = body.find
    startswith: Any = body.startswith
    closing: Any = b"}" if kind is bytes else "}"
    text: Any = None  # the last text: with one organization, always the next one too
    replacement: Any = None
    while (hit := find(key, scan)) > 0:
        match = to_value(body, hit + 14)
        if match is None or body[hit - 1] not in before_key:
            scan = hit + 14
            continue
        start = match.end()
        if text is None or not startswith(text, start):
            entry = known.get(head := body[start : start + 64])
            if entry is not None and entry[0] is None:  # this text did not parse flat
                scan = start
                continue
            if entry is not None and startswith(entry[0], start):
                text, replacement = entry
            elif len(shared) > count - len(shared) + 128:  # texts do not repeat: no gain
                return None
            else:
                text, replacement = _flat_object(body, start, closing, prefix, shared)
                known[head] = text, replacement
                if replacement is None:  # not a flat object: left to the plain parse
                    scan = start
                    continue
        pieces.append(body[position:start])
        pieces.append(replacement)
        position = scan = start + len(text)
        count += 1
    if not count:
        return None
    pieces.append(body[position:])
    empty: Any = body[:0]
    return orjson.loads(empty.join(pieces)), shared, count


def _heads_repeat(body: Any, key: Any, before_key: Any, to_value: Any) -> bool:
    """Whether the organization values' first 64 characters repeat, looking at a few hundred.

    Distinct organizations, or one with its keys in a new order each time, leave nothing
    to share: parsing their texts alone before the plain parse would be wasted work.
    """
    heads = set()
    seen = 0
    scan = 0
    find: Any = body.find
    while (hit := find(key, scan)) > 0:
        scan = hit + 14
        match = to_value(body, scan)
        if match is None or body[hit - 1] not in before_key:
            continue
        start = match.end()
        heads.add(body[start : start + 64])
        seen += 1
        repeats = seen - len(heads)
        if repeats >= 128:
            return True
        if len(heads) > repeats + 128:
            return False
    return True


def _flat_object(
    body: Any, start: int, closing: Any, prefix: str, shared: dict[str, Any]
) -> tuple[Any, Any]:
    """(text, quoted marker) of the flat object at ``start``, or (None, None).

    It ends at one of the next few ``}``: the first that parses (a ``}`` inside a string
    leaves a prefix that does not).
    """
    end = start
    for _ in range(8):
        end = body.find(closing, end + 1)
        if end < 0:
            break
        text = body[start : end + 1]
        replacement = _marker(text, prefix, shared)
        if replacement is not None:
            return text, replacement
    return None, None


def _marker(text: Any, prefix: str, shared: dict[str, Any]) -> Any:
    """The quoted marker standing for organization ``text``, or None if it is not flat."""
    try:
        raw = orjson.loads(text)
    except Exception:  # not one complete value
        return None
    if type(raw) is not dict or not _FLAT.issuperset(map(type, raw.values())):
        return None
    marker = f"{prefix}{len(shared)}"
    shared[marker] = raw
    return f'"{marker}"'.encode() if text.__class__ is bytes else f'"{marker}"'


def _loads(body: bytes | str) -> Any:
    if orjson is not None:
        try:
            return orjson.loads(body)
        except Exception:  # stdlib json also takes >64-bit ints, NaN, lone surrogates
            pass
    try:
        return json.loads(body)
    except Exception as exc:  # JSONDecodeError, UnicodeDecodeError, RecursionError, TypeError
        raise DecodeError(f"invalid JSON: {exc}") from None


def structure_invoices(data: Any) -> list[Invoice]:
    """Structure already-parsed JSON (a list of invoice objects) into `Invoice` instances."""
    return _structure(data, _Scratch())


def _structure(data: Any, scratch: _Scratch) -> list[Invoice]:
    if not isinstance(data, list):
        raise DecodeError(f"expected an array of invoices, got {_got_kind(data)}")
    try:
        return list(map(_build_invoice, data, repeat(scratch)))
    except MemoryError:
        raise
    except Exception:  # the careful pass below says where and why
        pass
    return _careful(data, scratch)


def _got_kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def _careful(data: list[Any], scratch: _Scratch) -> list[Invoice]:
    """The slow pass: the same hooks, one field at a time, keeping the JSON path."""
    try:
        return [
            _careful_model(Invoice, raw, f"[{index}]", scratch) for index, raw in enumerate(data)
        ]
    except (DecodeError, MemoryError):
        raise
    except Exception as exc:  # e.g. RecursionError comparing absurdly nested unknown fields
        raise DecodeError(f"undecodable value ({type(exc).__name__})") from None


def _careful_model(model: type[_T], raw: Any, path: str, scratch: _Scratch) -> _T:
    """Structure ``raw`` at ``path``: fast if it can, field by field to say what is wrong."""
    try:
        return _FAST[model](raw, scratch)  # type: ignore[no-any-return]
    except Exception:  # this very object is the bad one: find the field
        pass
    if not isinstance(raw, Mapping):
        raise DecodeError(f"expected object, got {_got_kind(raw)}", path=path)
    values: dict[str, Any] = {}
    for field in _FIELDS[model]:
        where = f"{path}.{field.wire}"
        if field.wire not in raw:
            if field.required:
                raise DecodeError("missing required field", path=where)
            continue
        value = raw[field.wire]
        if field.hook is _organization_hook:
            values[field.name] = _careful_model(
                Organization, scratch.unshare(value), where, scratch
            )
            continue
        try:
            values[field.name] = field.hook(value, None)
        except _Invalid as exc:
            raise DecodeError(str(exc), path=where) from None
    return model(**values)


_FAST: Final[dict[type, Callable[[Any, _Scratch], Any]]] = {
    Invoice: _build_invoice,
    Organization: _organization,
}


# --- encoding ---


def to_wire(value: Any) -> Any:
    """JSON-ready Python in the exact wire shape: camelCase keys, ``Z`` timestamps, str ids.

    Takes an `Invoice`, an `Organization`, or any iterable or str-keyed mapping of them
    (nested as deep as needed); ``decode_invoices(dumps(invoices)) == invoices``. A shared
    organization is encoded once per call; every invoice still gets its own dict.
    """
    return _to_wire(value, {})


def _to_wire(value: Any, organizations: dict[int, tuple[Organization, dict[str, Any]]]) -> Any:
    if isinstance(value, Invoice):
        wire: dict[str, Any] = _unstructure_invoice_shallow(value)
        organization = value.organization
        cached = organizations.get(id(organization))
        if cached is None or cached[0] is not organization:
            cached = organizations[id(organization)] = (organization, to_wire(organization))
        wire["organization"] = cached[1].copy()  # flat dict of immutable values
        return wire
    if isinstance(value, Organization):
        return converter.unstructure(value)
    if isinstance(value, datetime):
        return _timestamp_to_wire(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(key): _to_wire(item, organizations) for key, item in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, bytes | bytearray):
        return [_to_wire(item, organizations) for item in value]
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


_SEPARATORS: Final = {False: (",", ":"), True: (",", ": ")}


def dumps(value: Any, *, indent: bool = False) -> str:
    """JSON text of `to_wire` (UTF-8 characters kept as they are; two-space ``indent``)."""
    wire = to_wire(value)
    if orjson is not None:
        try:
            return orjson.dumps(wire, option=orjson.OPT_INDENT_2 if indent else 0).decode()
        except TypeError:  # an int beyond 64 bits: stdlib json below
            pass
    options: dict[str, Any] = {"indent": 2 if indent else None, "separators": _SEPARATORS[indent]}
    text = json.dumps(wire, ensure_ascii=False, **options)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: valid JSON only as a \\uXXXX escape
        return json.dumps(wire, ensure_ascii=True, **options)
    return text
