"""Spark schemas built from the contracts: the one place a logical type becomes a Spark type.

The Arrow counterpart is :mod:`smartmeter_assets.lake.schema`; both read the same (name, logical
type) pairs of :mod:`smartmeter_assets.contracts`, so a column is typed once for both engines.
"""

from __future__ import annotations

from pyspark.sql import types as T  # noqa: N812 - the PySpark convention

from smartmeter_assets.contracts import MESSAGE_FIELDS, Columns

_LOGICAL_TYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "double": T.DoubleType(),
    "long": T.LongType(),
    "int": T.IntegerType(),
    "boolean": T.BooleanType(),
    "binary": T.BinaryType(),
    # Spark's kafka source stamps records with its session-zone timestamp; the stream never
    # writes a Spark timestamp to the lake (rows go through Arrow, lake.schema).
    "timestamp": T.TimestampType(),
    "date": T.DateType(),
    "array<string>": T.ArrayType(T.StringType()),
}


def spark_type(logical: str) -> T.DataType:
    try:
        return _LOGICAL_TYPES[logical]
    except KeyError:
        raise ValueError(f"unknown logical type {logical!r} for Spark") from None


def spark_schema(columns: Columns) -> T.StructType:
    """A contract's columns as a Spark ``StructType`` (every column nullable, as Spark reads)."""
    return T.StructType([T.StructField(name, spark_type(logical)) for name, logical in columns])


def message_schema() -> T.StructType:
    """The message's 14 fields with their contract types (what a valid reading carries)."""
    return T.StructType([T.StructField(f.name, spark_type(f.type.value), f.nullable) for f in MESSAGE_FIELDS])
