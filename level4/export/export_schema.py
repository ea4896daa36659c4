"""The datasets' columns and their Arrow types, and the conversions into them.

Prices and sizes are Parquet DECIMAL(38, scale) (scale 18 unless asked
otherwise): exact, summed and compared as decimals by DuckDB, polars and
pandas alike, and one type for every market so a dataset reads as one table.
Venues send up to 16 decimals (Bitfinex's sizes are JSON floats:
1.7023900800000002 in the recorded session) and prices below 10^12.
A value it cannot hold exactly (more decimals than the scale, or more than
38 - scale digits before the point) is never rounded: the export of that
market stops with an error naming the value and the scale that would hold
it (`--scale`). A text column beside a float one would hold anything, but
every query would have to parse it again; no venue's values call for that.

Times are Parquet TIMESTAMP(NANOS, UTC): the nearest nanosecond to the
event's Unix seconds (a double, as the service stamps them).
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from level4.export.dataset_columns import BOOL, COLUMNS, DECIMAL, INT32, INT64, TEXT, TIME

PRECISION = 38
DEFAULT_SCALE = 18
TIMESTAMP = pa.timestamp("ns", tz="UTC")
DAY_NS = 86_400 * 1_000_000_000


class ValueTooWide(ValueError):
    """A price or size DECIMAL(38, scale) cannot hold exactly."""

    def __init__(self, column: str, value: str, scale: int) -> None:
        self.column, self.value, self.scale = column, value, scale
        super().__init__(f"{column} {value!r} does not fit DECIMAL({PRECISION}, {scale}): {scale_hint(value)}")


def scale_hint(value: str) -> str:
    try:
        d = Decimal(value)
    except InvalidOperation:
        return "not a decimal number"
    if not d.is_finite():
        return "not a finite number"
    places = max(0, -d.normalize().as_tuple().exponent)  # type: ignore[operator]
    whole = max(0, d.adjusted() + 1)
    if places + whole > PRECISION:
        return f"{whole} digits before the point and {places} after are more than {PRECISION}"
    return f"export again with --scale between {places} and {PRECISION - whole}"


def fits(value: str, scale: int) -> bool:
    try:
        d = Decimal(value)
    except InvalidOperation:
        return False
    if not d.is_finite():
        return False
    places = max(0, -d.normalize().as_tuple().exponent)  # type: ignore[operator]
    return places <= scale and max(0, d.adjusted() + 1) <= PRECISION - scale


def decimal_type(scale: int) -> pa.DataType:
    return pa.decimal128(PRECISION, scale)


def arrow_type(kind: str, scale: int) -> pa.DataType:
    return {
        TIME: TIMESTAMP,
        DECIMAL: decimal_type(scale),
        TEXT: pa.string(),
        INT64: pa.int64(),
        INT32: pa.int32(),
        BOOL: pa.bool_(),
    }[kind]


def schema(dataset: str, scale: int) -> pa.Schema:
    return pa.schema([pa.field(name, arrow_type(kind, scale)) for name, kind in COLUMNS[dataset]])


def ns_of(seconds: float) -> int:
    """The nearest nanosecond to Unix `seconds`: the fraction is scaled on
    its own, as multiplying the whole by 1e9 would round to 256 ns."""
    whole = math.floor(seconds)
    return whole * 1_000_000_000 + round((seconds - whole) * 1e9)


def column_array(name: str, kind: str, values: list[Any] | tuple[Any, ...], scale: int) -> pa.Array:
    """One buffered column as Arrow; times come as integer nanoseconds."""
    if kind == DECIMAL:
        try:
            return pa.array(values, pa.string()).cast(decimal_type(scale))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            bad = next((v for v in values if v is not None and not fits(v, scale)), None)
            if bad is None:
                raise
            raise ValueTooWide(name, bad, scale) from None
    return pa.array(values, arrow_type(kind, scale))
