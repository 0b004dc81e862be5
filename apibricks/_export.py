"""Invoices as columns: `to_arrow` and `to_pandas`, one row per invoice.

The columns are derived from the attrs models, never listed by hand: every `Invoice`
attribute but ``organization`` in declaration order, ``amount_usd`` (an exact
``decimal128(19, 2)``) right after ``amount_usd_cents``, then every `Organization`
attribute as ``organization_<name>``. A new model field therefore appears here with no
edit. Types follow the annotations: ``int`` -> int64, ``bool`` -> bool, ``datetime`` ->
UTC microsecond timestamps, ``str`` and ``uuid.UUID`` -> string (a UUID as its canonical
text, which Parquet, CSV and pandas all keep as is); ``X | None`` fields are nullable,
the others are not.

pyarrow (and pandas for `to_pandas`) are optional extras, imported only when called.
"""

from __future__ import annotations

import importlib
import types
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Final, Union, get_args, get_origin

import attrs

from ._models import Invoice, Organization

if TYPE_CHECKING:
    import pandas
    import pyarrow

__all__ = ["ORGANIZATION_PREFIX", "invoice_schema", "require", "to_arrow", "to_pandas"]

ORGANIZATION_PREFIX: Final = "organization_"
# Enough digits for any int64 number of cents, so the decimal column never overflows.
_AMOUNT_DECIMAL: Final = (19, 2)


def require(module: str, extra: str) -> Any:
    """Import an optional dependency, or say which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f'{module} is required for this; install it with: pip install "apibricks[{extra}]"'
        ) from exc


def _arrow_type(pa: Any, annotation: object) -> tuple[Any, bool]:
    """(arrow type, nullable) for an attrs field annotation of the models."""
    args = get_args(annotation)
    nullable = get_origin(annotation) in (Union, types.UnionType) and type(None) in args
    if nullable:
        (annotation,) = (arg for arg in args if arg is not type(None))
    scalar = {
        bool: pa.bool_(),
        int: pa.int64(),
        str: pa.string(),
        uuid.UUID: pa.string(),
        datetime: pa.timestamp("us", tz="UTC"),
    }
    if annotation not in scalar:  # a model grew a field of a new kind: map it above
        raise TypeError(f"no Arrow type for {annotation!r}")
    return scalar[annotation], nullable


# A column: its Arrow field and how to read its value from an invoice or organization.
_Column = tuple["pyarrow.Field", Callable[[Any], object]]


def _columns(pa: Any, model: type, prefix: str = "") -> list[_Column]:
    columns: list[_Column] = []
    for field in attrs.fields(model):
        if attrs.has(field.type):  # the nested organization: flattened separately
            continue
        arrow_type, nullable = _arrow_type(pa, field.type)
        getter: Callable[[Any], object] = _getter(field.name, field.type)
        columns.append((pa.field(prefix + field.name, arrow_type, nullable), getter))
        if model is Invoice and field.name == "amount_usd_cents":
            decimal_type = pa.decimal128(*_AMOUNT_DECIMAL)
            amount = pa.field("amount_usd", decimal_type, nullable=False)
            columns.append((amount, lambda invoice: invoice.amount_usd))
    return columns


def _getter(name: str, annotation: object) -> Callable[[Any], object]:
    if uuid.UUID in (annotation, *get_args(annotation)):
        return lambda obj: None if (value := getattr(obj, name)) is None else str(value)
    return lambda obj: getattr(obj, name)


@cache
def _layout() -> tuple[list[_Column], list[_Column], Any]:
    pa = require("pyarrow", "arrow")
    invoice_columns = _columns(pa, Invoice)
    organization_columns = _columns(pa, Organization, ORGANIZATION_PREFIX)
    schema = pa.schema([field for field, _ in invoice_columns + organization_columns])
    return invoice_columns, organization_columns, schema


def invoice_schema() -> pyarrow.Schema:
    """The Arrow schema of `to_arrow` tables (also the Parquet and Dask column layout)."""
    return _layout()[2]


def to_arrow(invoices: Iterable[Invoice]) -> pyarrow.Table:
    """One row per invoice, its organization's fields flattened beside it.

    Each distinct organization is converted once and repeated with ``take``, so a large
    response whose invoices share one `Organization` costs one organization row, not
    one per invoice. Needs the ``arrow`` extra.
    """
    invoice_columns, organization_columns, schema = _layout()
    pa = require("pyarrow", "arrow")
    invoices = list(invoices)
    positions: dict[int, int] = {}
    organizations: list[Organization] = []
    indices: list[int] = []
    for invoice in invoices:
        organization = invoice.organization
        position = positions.get(id(organization))
        if position is None:  # `organizations` keeps each object alive, so ids stay unique
            position = positions[id(organization)] = len(organizations)
            organizations.append(organization)
        indices.append(position)
    take = pa.array(indices, pa.int64())
    arrays = [
        pa.array([get(invoice) for invoice in invoices], field.type)
        for field, get in invoice_columns
    ]
    arrays += [
        pa.array([get(org) for org in organizations], field.type).take(take)
        for field, get in organization_columns
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def to_pandas(invoices: Iterable[Invoice]) -> pandas.DataFrame:
    """`to_arrow` as a pandas DataFrame: ``datetime64[us, UTC]`` timestamps, int64 cents,
    bool flags, NaT/NA for nulls, and ``amount_usd`` kept exact as an Arrow-backed
    ``decimal128(19, 2)`` column (its items are `decimal.Decimal`; an object column would
    be turned into strings by Dask). Needs the ``pandas`` extra.
    """
    pd = require("pandas", "pandas")
    pa = require("pyarrow", "pandas")

    def exact_decimals(arrow_type: pyarrow.DataType) -> object:
        return pd.ArrowDtype(arrow_type) if pa.types.is_decimal(arrow_type) else None

    return to_arrow(invoices).to_pandas(types_mapper=exact_decimals)
