"""All (de)serialization of the models, through one cattrs converter.

`converter`'s structure hooks are the generated builders of `_build`, registered by a
hook factory: ``converter.structure(json.loads(body), list[Invoice])`` *is* the decoder
of parsed JSON, and `structure_invoices` is that call. `decode_invoices` lets msgspec
parse the body into structs, each repeated organization text decoded once (`_wire`),
and runs the same generated reads on them, by attribute instead of by key. Where
anything is wrong it parses the body plainly and runs the hooks, which raise
`DecodeError` naming the path (``[3].organization.creditBalance: expected int, got
str``) where the value is read: the errors are the hooks', whatever the path.

No other exception escapes `decode_invoices` or `structure_invoices`, whatever the input.
"""

from __future__ import annotations

import json
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from itertools import repeat
from typing import Any, Final, TypeVar

import cattrs
import orjson
from cattrs.gen import make_dict_unstructure_fn, override

from ._build import (
    Invalid,
    Scratch,
    build_invoice,
    build_wire_invoice,
    fields,
    kind,
    organization,
    wire_name,
)
from ._exceptions import DecodeError
from ._models import Invoice, Organization
from ._timestamps import format_timestamp
from ._wire import read_uuids, texts_repeat, wire_invoices

__all__ = [
    "InvoiceRuns",
    "converter",
    "decode_invoices",
    "dumps",
    "structure_invoices",
    "to_wire",
    "wire_name",
]

_T = TypeVar("_T")


def _located(error: Invalid, where: str) -> DecodeError:
    path = f"{where}.{error.path}" if where and error.path else where or error.path
    return DecodeError(error.message, path=path)


def _undecodable(error: Exception) -> DecodeError:
    """For what no field explains (e.g. RecursionError comparing absurdly nested values)."""
    return DecodeError(f"undecodable value ({type(error).__name__})")


def _structure(data: Any, scratch: Scratch) -> list[Invoice]:
    """A list of raw invoices -> `Invoice` instances, sharing organizations via ``scratch``."""
    if not isinstance(data, list):
        raise DecodeError(f"expected an array of invoices, got {kind(data)}")
    invoices: list[Invoice] = []
    append = invoices.append
    build = build_invoice
    try:
        for raw in data:
            append(build(raw, scratch))
    except Invalid as error:
        raise _located(error, f"[{len(invoices)}]") from None
    except MemoryError:
        raise
    except Exception as error:
        raise _undecodable(error) from None
    return invoices


def _one(build: Callable[[Any, Scratch], Any]) -> Callable[[Any, Any], Any]:
    """The cattrs hook of one model: ``build`` with a scratch of its own, errors located."""

    def structure(raw: Any, _: Any = None) -> Any:
        try:
            return build(raw, Scratch())
        except Invalid as error:
            raise _located(error, "") from None
        except MemoryError:
            raise
        except Exception as error:
            raise _undecodable(error) from None

    return structure


def _structure_list(data: Any, _: Any = None) -> list[Invoice]:
    return _structure(data, Scratch())


_MODEL_HOOKS: Final[dict[Any, Callable[[Any, Any], Any]]] = {
    Invoice: _one(build_invoice),
    Organization: _one(organization),
}


def _is_invoice_list(tp: Any) -> bool:
    return typing.get_origin(tp) is list and typing.get_args(tp) == (Invoice,)


def _hook_factory(tp: Any) -> Callable[[Any, Any], Any]:
    """The builder behind ``tp``: one model, or a list of invoices sharing organizations."""
    return _MODEL_HOOKS.get(tp) or _structure_list


converter: Final = cattrs.Converter(detailed_validation=False)
"""The cattrs converter of the models: ``converter.structure(data, list[Invoice])``."""
converter.register_structure_hook_factory(
    lambda tp: tp in _MODEL_HOOKS or _is_invoice_list(tp), _hook_factory
)


def structure_invoices(data: Any) -> list[Invoice]:
    """Structure already-parsed JSON (a list of invoice objects) into `Invoice` instances."""
    return converter.structure(data, list[Invoice])


# Below this size (a few dozen invoices), or where organization texts do not repeat (one
# organization per invoice, keys shuffled per object), decoding each whole is cheaper
# than looking for repeated texts.
_SMALL: Final = 64 * 1024


def decode_invoices(body: bytes | str) -> list[Invoice]:
    """Decode a ``GET /invoices/paid`` body; any malformation is a `DecodeError`.

    The result is exactly ``structure_invoices(json.loads(body))``, whatever the layout.
    """
    return _decode(body, Scratch())


def _decode(body: bytes | str, scratch: Scratch) -> list[Invoice]:
    if body.__class__ in _TEXTS:
        repeats = len(body) >= _SMALL and texts_repeat(body)
        wire = wire_invoices(body, repeats)
        if wire is not None:
            try:
                read_uuids(wire, scratch.uuids)
                return list(map(build_wire_invoice, wire, repeat(scratch)))
            except MemoryError:
                raise
            except Exception:  # the plain parse below words the error, as json.loads reads it
                pass
    return _plainly(body, scratch)


_TEXTS: Final = frozenset({bytes, str})


def _plainly(body: bytes | str, scratch: Scratch) -> list[Invoice]:
    """``body`` parsed plainly (orjson, else, or on a float, the stdlib) and structured."""
    try:
        return _structure(_loads(body), scratch)
    except DecodeError as exc:
        error = exc
    if "got float" not in error.message:
        raise error
    # orjson turns integers beyond 64 bits into floats: the stdlib parser has the last word.
    try:
        data = json.loads(body)
    except Exception:
        raise error from None
    return _structure(data, scratch)


def _loads(body: bytes | str) -> Any:
    try:
        return orjson.loads(body)
    except Exception:  # stdlib json also takes NaN, lone surrogates
        pass
    try:
        return json.loads(body)
    except Exception as exc:  # JSONDecodeError, UnicodeDecodeError, RecursionError, TypeError
        raise DecodeError(f"invalid JSON: {exc}") from None


class InvoiceRuns:
    """Decodes the successive runs of one streamed body (see `_array_cutter`).

    What one response shares (an organization's instance, its raw dict, its UUIDs) is kept
    from run to run, so a streamed body's invoices share instances as `decode_invoices`'
    do; nothing is kept beyond the body.
    """

    __slots__ = ("_scratch",)

    def __init__(self) -> None:
        self._scratch = Scratch()

    def __call__(self, run: bytes) -> list[Invoice]:
        return _decode(run, self._scratch)


# --- encoding ---


def _timestamp_to_wire(value: datetime | None) -> str | None:
    return None if value is None else format_timestamp(value)


def _identity(value: Any) -> Any:
    return value


# How each field type goes to the wire (None: as it is).
_UNSTRUCTURE: Final[dict[Any, Callable[[Any], Any]]] = {
    uuid.UUID: str,
    datetime | None: _timestamp_to_wire,
    str | None: _identity,  # cattrs' own Optional handling costs a call and a check
}


def _unstructure_fn(model: type, **extra: Any) -> Callable[[Any], dict[str, Any]]:
    overrides: dict[str, Any] = {
        f.name: override(rename=f.wire, unstruct_hook=_UNSTRUCTURE.get(f.type))
        for f in fields(model)
    }
    overrides.update(extra)
    return make_dict_unstructure_fn(model, converter, **overrides)


converter.register_unstructure_hook(Organization, _unstructure_fn(Organization))
converter.register_unstructure_hook(Invoice, _unstructure_fn(Invoice))
# For `to_wire`: an invoice's dict with the organization left as is (encoded once).
_unstructure_invoice_shallow: Final = _unstructure_fn(
    Invoice, organization=override(rename="organization", unstruct_hook=_identity)
)


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
