"""Every table schema is written once in contracts.py and built for each engine from there."""

from __future__ import annotations

import pyarrow as pa
import pytest

from smartmeter_assets import contracts
from smartmeter_assets.lake.schema import arrow_schema, arrow_type
from smartmeter_assets.stream.schema import spark_schema, spark_type


def contract_columns() -> dict[str, contracts.Columns]:
    """Every (name, logical type) table contract in contracts.py, by the name it is known under."""
    found: dict[str, contracts.Columns] = {t.name: t.columns for t in contracts.LAKE_TABLES}
    for name, value in vars(contracts).items():
        pairs = isinstance(value, tuple) and value and all(isinstance(c, tuple) and len(c) == 2 for c in value)
        if pairs and all(isinstance(part, str) for c in value for part in c):
            found[name] = value
    return found


def test_every_contract_is_found_and_builds_as_arrow() -> None:
    columns = contract_columns()
    for expected in ("PUBLISHED_COLUMNS", "ALERT_COLUMNS", "STAGED_READING_TYPES", "KAFKA_RECORD_COLUMNS"):
        assert expected in columns
    for name, table in columns.items():
        schema = arrow_schema(table)
        assert schema.names == [column for column, _ in table], name


def test_the_kafka_record_builds_as_spark_with_the_same_names() -> None:
    schema = spark_schema(contracts.KAFKA_RECORD_COLUMNS)
    assert schema.fieldNames() == [name for name, _ in contracts.KAFKA_RECORD_COLUMNS]
    assert schema["value"].dataType == spark_type("binary")


def test_not_null_columns_are_declared_so() -> None:
    schema = arrow_schema(contracts.PUBLISHED_COLUMNS, contracts.PUBLISHED_NOT_NULL)
    assert sorted(f.name for f in schema if not f.nullable) == sorted(contracts.PUBLISHED_NOT_NULL)
    assert schema.field("published_at").type == pa.timestamp("us", tz="UTC")


def test_the_staged_readings_keep_pandas_milliseconds_and_the_names_agree() -> None:
    schema = arrow_schema(contracts.STAGED_READING_TYPES)
    assert tuple(schema.names) == contracts.STAGED_READING_COLUMNS
    assert schema.field("timestamp").type == pa.timestamp("ms")


@pytest.mark.parametrize("convert", [arrow_type, spark_type])
def test_an_unknown_logical_type_is_a_clear_error(convert: object) -> None:
    with pytest.raises(ValueError, match="unknown logical type 'decimal'"):
        convert("decimal")  # type: ignore[operator]
