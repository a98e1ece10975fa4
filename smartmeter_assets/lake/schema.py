"""Arrow schemas built from the contracts, so a lake table is never typed by hand twice."""

from __future__ import annotations

import pyarrow as pa

from smartmeter_assets.contracts import MESSAGE_FIELDS, FieldType, LakeTable

_LOGICAL_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "double": pa.float64(),
    "long": pa.int64(),
    "int": pa.int32(),
    "boolean": pa.bool_(),
    # delta-rs stores timestamps without zone as microseconds (Delta's timestamp_ntz).
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "array<string>": pa.list_(pa.string()),
}


def arrow_type(logical: str) -> pa.DataType:
    try:
        return _LOGICAL_TYPES[logical]
    except KeyError:
        raise ValueError(f"unknown logical type {logical!r} in the lake contract") from None


def lake_arrow_schema(table: LakeTable) -> pa.Schema:
    """The Arrow schema of a lake table (what the writer casts to and the checks compare with)."""
    return pa.schema([pa.field(name, arrow_type(logical)) for name, logical in table.columns])


def message_arrow_schema() -> pa.Schema:
    """The 14-field Kafka message as Arrow (timestamps stay strings, as on the wire)."""
    types = {FieldType.STRING: pa.string(), FieldType.DOUBLE: pa.float64()}
    return pa.schema([pa.field(f.name, types[f.type], nullable=f.nullable) for f in MESSAGE_FIELDS])
