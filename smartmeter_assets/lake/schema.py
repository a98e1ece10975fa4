"""Arrow schemas built from the contracts, so a table is never typed by hand twice.

The one place a logical type of :mod:`smartmeter_assets.contracts` becomes an Arrow type: the
lake's Delta tables, the staged Parquet and the publish records are all built here.
"""

from __future__ import annotations

from collections.abc import Collection

import pyarrow as pa

from smartmeter_assets.contracts import Columns, LakeTable

_LOGICAL_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "double": pa.float64(),
    "long": pa.int64(),
    "int": pa.int32(),
    "boolean": pa.bool_(),
    "binary": pa.binary(),
    # delta-rs stores timestamps without zone as microseconds (Delta's timestamp_ntz).
    "timestamp": pa.timestamp("us"),
    "timestamp[ms]": pa.timestamp("ms"),
    "timestamp[utc]": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "array<string>": pa.list_(pa.string()),
}


def arrow_type(logical: str) -> pa.DataType:
    try:
        return _LOGICAL_TYPES[logical]
    except KeyError:
        raise ValueError(f"unknown logical type {logical!r} in a table contract") from None


def arrow_schema(columns: Columns, not_null: Collection[str] = ()) -> pa.Schema:
    """The Arrow schema of a contract's columns; ``not_null`` columns are declared non-nullable."""
    return pa.schema([pa.field(name, arrow_type(logical), nullable=name not in not_null) for name, logical in columns])


def lake_arrow_schema(table: LakeTable) -> pa.Schema:
    """The Arrow schema of a lake table (what the writer casts to and the checks compare with)."""
    return arrow_schema(table.columns)
