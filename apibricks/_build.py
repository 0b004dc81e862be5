"""Parsed JSON -> models: one generated builder per model, registered as cattrs hooks.

Each builder reads every field as its type says (`_READ`), with the check inlined so the
usual value costs no call, and raises `Invalid` naming the field on the first bad one:
there is no second, careful pass. The wire names are derived from the attrs attributes
(``amount_usd_cents`` -> ``amountUsdCents``), so each field is declared once, in
``_models``. Within one response (one `Scratch`), each distinct organization is built
once and its instance shared (reused when the raw dict is the same object or equal to
the one it was built from, never on the id alone), and each distinct UUID text read once.
"""

from __future__ import annotations

import operator
import textwrap
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Final, TypeVar

import attrs

from ._models import Invoice, Organization
from ._private_apis import draft_class
from ._timestamps import _DIGITS_TO_ZERO, FAST_SUFFIX, UTC_SHAPES, parse_timestamp

__all__ = [
    "Invalid",
    "Scratch",
    "build_invoice",
    "build_organization",
    "build_wire_invoice",
    "fields",
    "is_uuid_text",
    "organization",
    "wire_name",
]

UTC: Final = timezone.utc
_T = TypeVar("_T")


def wire_name(model: type, attribute: str) -> str:
    """The JSON name of ``model.attribute``: camelCase of the snake_case attribute."""
    head, *rest = attribute.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class Invalid(ValueError):
    """A value of the wrong type or shape, and where it is (``organization.creditBalance``)."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.model: type | None = None  # the model whose builder placed the path last

    def within(self, wire: str) -> Invalid:
        """This error, one level further out (the field ``wire`` holding the bad value)."""
        self.path = f"{wire}.{self.path}" if self.path else wire
        return self


_KINDS: Final[dict[type, str]] = {
    dict: "object",
    list: "array",
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    type(None): "null",
}


def kind(value: Any) -> str:
    """The JSON kind of ``value`` (``object``, ``null``...), for messages."""
    return _KINDS.get(type(value), type(value).__name__)


def _got(value: Any) -> str:
    """``str`` for a wrong type; the (shortened) value itself for a bad string."""
    if type(value) is str:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "...'"
    return kind(value)


# --- reading one value: the slow halves, called only when the inline check fails ---


def _bad_int(value: Any, wire: str) -> Any:
    raise Invalid(f"expected int, got {kind(value)}", wire)


def _bad_bool(value: Any, wire: str) -> Any:
    raise Invalid(f"expected bool, got {kind(value)}", wire)


def _bad_str(value: Any, wire: str) -> Any:
    raise Invalid(f"expected str or null, got {kind(value)}", wire)


# A UUID as the API writes it: 8-4-4-4-12 hex digits, either case. Digits translate to
# ``0``: one bytes comparison checks the shape (``uuid.UUID`` also takes braces, ``urn:``
# and no dashes; the API never sends those, and they are not what the spec documents).
_HEX_TO_ZERO: Final = bytes.maketrans(b"123456789abcdefABCDEF", b"0" * 21)
_UUID_SHAPE: Final = b"00000000-0000-0000-0000-000000000000"


def is_uuid_text(value: str) -> bool:
    """Whether ``value`` is a UUID as the API writes it (8-4-4-4-12 hex digits)."""
    # ``isascii`` first, so ``encode`` cannot fail (on a lone surrogate)
    return value.isascii() and value.encode().translate(_HEX_TO_ZERO) == _UUID_SHAPE


def _new_uuid(cache: dict[str, uuid.UUID], value: Any, wire: str) -> uuid.UUID:
    """A UUID text not seen yet in this response: checked, built, remembered."""
    if value.__class__ is not str:
        raise Invalid(f"expected UUID string, got {_got(value)}", wire)
    if is_uuid_text(value):
        result = cache[value] = uuid.UUID(value)
        return result
    raise Invalid(f"expected UUID, got {_got(value)}", wire)


def _timestamp(value: Any, wire: str) -> datetime:
    """A timestamp off the inline path (an offset other than zero, or a bad value)."""
    if value.__class__ is not str:
        raise Invalid(f"expected ISO 8601 timestamp or null, got {_got(value)}", wire)
    try:
        return parse_timestamp(value)
    except (ValueError, OverflowError):  # bad shape, month 13, out of range once in UTC
        raise Invalid(f"expected ISO 8601 timestamp, got {_got(value)}", wire) from None


# How a builder reads one field of type T: a Python expression of ``o`` (the raw value:
# a parsed dict, or msgspec's wire struct), ``s`` (the response's `Scratch`) and ``u``
# (its UUIDs), check inlined. ``{get}`` / ``{opt}`` read a required / optional field. The
# usual timestamp (``...Z``, 0-9 fraction digits on 3.11+) is one ``fromisoformat``;
# other shapes the API sends take `FAST_SUFFIX`'s suffix first, and a check of the zone.
_READ: Final[dict[Any, str]] = {
    int: "(v if (v := {get}).__class__ is int else _bad_int(v, {wire!r}))",
    bool: "(v if (v := {get}) is True or v is False else _bad_bool(v, {wire!r}))",
    str | None: "(v if (v := {opt}) is None or v.__class__ is str else _bad_str(v, {wire!r}))",
    datetime | None: (
        "(None if (v := {opt}) is None else _fromisoformat(v) if v.__class__ is str"
        " and (k := v.encode().translate(_ZERO)) in _UTC_SHAPES else d if v.__class__ is str"
        " and (x := _SUFFIX.get(k)) is not None and (d := _fromisoformat(v + x)).tzinfo is _UTC"
        " else _timestamp(v, {wire!r}))"
    ),
    uuid.UUID: (
        "((u.get(v) if (v := {get}).__class__ is str else None) or _new_uuid(u, v, {wire!r}))"
    ),
}
# The types msgspec's wire structs (`_wire`) declare and check as the reads above would:
# a builder reading such a struct takes those fields as they are.
PARSER_CHECKED: Final = frozenset({int, bool, str | None})
# How ``{get}`` and ``{opt}`` read from a parsed dict, and from a wire struct (absent
# optional fields are None there too).
_ACCESS: Final[dict[bool, tuple[str, str]]] = {
    False: ("o[{wire!r}]", "o.get({wire!r})"),
    True: ("o.{wire}", "o.{wire}"),
}


@attrs.frozen
class Field:
    """One attribute of a model: its name, wire name, type and whether it may be absent."""

    name: str
    wire: str
    type: Any
    required: bool


def fields(model: type) -> tuple[Field, ...]:
    """The fields of ``model``, wire names derived; absent optional fields read as None."""
    result = []
    for f in attrs.fields(model):
        assert f.default is attrs.NOTHING or f.default is None, f  # what `_READ` assumes
        result.append(Field(f.name, wire_name(model, f.name), f.type, f.default is attrs.NOTHING))
    return tuple(result)


class Scratch:
    """Per-response state, handed to every builder of one response.

    ``organizations``, ``raws``: organization id -> its instance, and the raw dict it was
    built from (two dicts, not one of pairs: no tuple per organization for the GC to track).
    ``uuids``: text -> `uuid.UUID`, the ids read so far (an invoice repeats its
    organization's). Per response, not global: another response's ids are other ids.
    """

    __slots__ = ("organizations", "raws", "uuids")

    def __init__(self) -> None:
        self.organizations: dict[Any, Organization] = {}
        self.raws: dict[Any, Any] = {}
        self.uuids: dict[str, uuid.UUID] = {}


def _explain(error: Exception, raw: Any, model: type) -> Exception:
    """The `Invalid` for an error a builder of ``model`` met, its path placed in ``model``.

    An `Invalid` from a nested model's builder gets the field holding it in front of its
    path (``organization.creditBalance``): builders call each other directly, with no
    wrapper per nested value. A missing required field is a ``KeyError``;
    ``fromisoformat`` refusing a text of the right shape (month 13), or ``encode`` a lone
    surrogate, a ``ValueError``. Anything else is passed on as it is.
    """
    if isinstance(error, Invalid):
        if error.model is not None and error.model is not model:
            error.within(_NESTED[model][error.model])
        invalid = error
    elif isinstance(error, KeyError) and error.args and isinstance(error.args[0], str):
        invalid = Invalid("missing required field", error.args[0])
    elif isinstance(error, ValueError):  # the first timestamp whose slow read refuses it
        for field in _FIELDS[model]:
            if field.type == datetime | None and raw.get(field.wire) is not None:
                try:
                    _timestamp(raw[field.wire], field.wire)
                except Invalid as refused:
                    invalid = refused
                    break
        else:
            return error
    else:
        return error
    invalid.model = model
    return invalid


def _builder(
    model: type[_T],
    nested: dict[type, Callable[[Any, Scratch], Any]],
    *,
    by_attribute: bool = False,
) -> Any:
    """Generate ``build(o, s) -> model``: each field read as `_READ` says.

    ``nested`` gives the builder of each field whose type is a model. The instance is
    made by attrs' ``__init__``, or where `_private_apis.draft_class` allows it, by plain stores
    on a draft (see there why). ``by_attribute``: ``o`` is msgspec's wire struct
    (`_wire`), whose shape msgspec has checked; any error there is left to the caller,
    who decodes the body plainly and words it.
    """
    model_fields = _FIELDS[model]
    namespace: dict[str, Any] = {
        "model": model,
        "Mapping": Mapping,
        "Invalid": Invalid,
        "kind": kind,
        "_explain": _explain,
        "_new": object.__new__,
        "_bad_int": _bad_int,
        "_bad_bool": _bad_bool,
        "_bad_str": _bad_str,
        "_timestamp": _timestamp,
        "_fromisoformat": datetime.fromisoformat,
        "_ZERO": _DIGITS_TO_ZERO,
        "_SUFFIX": FAST_SUFFIX,
        "_UTC_SHAPES": UTC_SHAPES,
        "_UTC": UTC,
        "_new_uuid": _new_uuid,
    }
    get, opt = _ACCESS[by_attribute]
    reads = []
    for index, field in enumerate(model_fields):
        access = {"get": get.format(wire=field.wire), "opt": opt.format(wire=field.wire)}
        if field.type in nested:
            namespace[f"_nested_{index}"] = nested[field.type]
            reads.append(f"_nested_{index}({access['get']}, s)")
        elif by_attribute and field.type in PARSER_CHECKED:  # msgspec checked it
            reads.append(access["get"])
        else:
            reads.append(_READ[field.type].format(wire=field.wire, **access))
    draft = draft_class(model)
    if draft is None:
        pairs = zip(model_fields, reads, strict=True)
        arguments = "".join(f"    {f.name}={r},\n" for f, r in pairs)
        make = f"return model(\n{arguments})\n"
    else:
        namespace["draft"], extra = draft
        stores = [f"self.{f.name} = {r}" for f, r in zip(model_fields, reads, strict=True)]
        stores += [f"self.{slot} = None" for slot in extra]
        make = "".join(f"{line}\n" for line in ("self = _new(draft)", *stores))
        make += "self.__class__ = model\nreturn self\n"
    if by_attribute:
        source = "def build(o, s):\n    u = s.uuids\n" + textwrap.indent(make, " " * 4)
    else:
        source = (
            "def build(o, s):\n"
            "    u = s.uuids\n"
            "    try:\n"
            "        if o.__class__ is not dict and not isinstance(o, Mapping):\n"
            "            raise Invalid(f'expected object, got {kind(o)}')\n"
            f"{textwrap.indent(make, ' ' * 8)}"
            "    except Exception as error:\n"
            "        raise _explain(error, o, model) from None\n"
        )
    exec(compile(source, f"<apibricks build {model.__name__}>", "exec"), namespace)
    return namespace["build"]


_FIELDS: Final[dict[type, tuple[Field, ...]]] = {m: fields(m) for m in (Organization, Invoice)}
# model -> the model of a nested field -> that field's wire name (one field per nested model).
_NESTED: Final[dict[type, dict[type, str]]] = {
    m: {f.type: f.wire for f in _FIELDS[m] if attrs.has(f.type)} for m in _FIELDS
}
assert all(
    len(nested) == sum(attrs.has(f.type) for f in _FIELDS[m]) for m, nested in _NESTED.items()
)
# An organization's int and bool fields, read at C speed, and the types they must have.
_NUMBER_FIELDS: Final = tuple(f for f in _FIELDS[Organization] if f.type in (int, bool))
_NUMBER_TYPES: Final = tuple(f.type for f in _NUMBER_FIELDS)
assert len(_NUMBER_FIELDS) > 1  # itemgetter of one key returns the value, not a tuple


def _sharing(
    build: Callable[[Any, Scratch], Organization], by_attribute: bool
) -> Callable[[Any, Scratch], Organization]:
    """``organization(raw, s)``: ``build`` once per response, equal raws sharing one instance.

    ``raw`` is a parsed dict, or with ``by_attribute`` msgspec's wire struct (`_wire`).
    """
    getter = operator.attrgetter if by_attribute else operator.itemgetter
    identify = getter("id")
    numbers = getter(*(f.wire for f in _NUMBER_FIELDS))
    # msgspec's structs hold ints and bools of exactly their types (`PARSER_CHECKED`)
    typed = by_attribute and {f.type for f in _NUMBER_FIELDS} <= PARSER_CHECKED

    def organization(raw: Any, scratch: Scratch) -> Organization:
        try:
            key = identify(raw)
            hit = scratch.organizations.get(key)
        except Exception:  # not an object, no id, an unhashable id: the builder says which
            return build(raw, scratch)
        if hit is not None:
            known = scratch.raws[key]
            if raw is known:  # the same text, parsed once (`_wire`)
                return hit
            # ``==`` equates 1, 1.0 and True; strings and null only equal themselves. So
            # an equal raw builds an equal instance once its int and bool fields have the
            # exact types (unknown fields are ignored either way): one C-level read.
            try:
                if raw == known and (typed or tuple(map(type, numbers(raw))) == _NUMBER_TYPES):
                    return hit
            except RecursionError:  # unknown fields nested beyond compare: build it anew
                pass
        result = scratch.organizations[key] = build(raw, scratch)
        scratch.raws[key] = raw
        return result

    return organization


build_organization: Final[Callable[[Any, Scratch], Organization]] = _builder(Organization, {})
organization: Final = _sharing(build_organization, by_attribute=False)
"""Build an organization once per response; equal raw dicts share one instance."""
build_invoice: Final[Callable[[Any, Scratch], Invoice]] = _builder(
    Invoice, {Organization: organization}
)

# The same builders, reading msgspec's wire structs (`_wire`): the decoder's way.
build_wire_organization: Final[Callable[[Any, Scratch], Organization]] = _builder(
    Organization, {}, by_attribute=True
)
build_wire_invoice: Final[Callable[[Any, Scratch], Invoice]] = _builder(
    Invoice,
    {Organization: _sharing(build_wire_organization, by_attribute=True)},
    by_attribute=True,
)
