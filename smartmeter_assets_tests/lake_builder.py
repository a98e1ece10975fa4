"""Small hand-made lakes for tests: rows in the contract's schema, written with delta-rs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pyarrow as pa
from deltalake import write_deltalake

from smartmeter_assets.contracts import LakeTable
from smartmeter_assets.lake.schema import lake_arrow_schema
from smartmeter_assets.lake.storage import Lake


def write_rows(lake: Lake, table: LakeTable, rows: list[dict[str, Any]], mode: str = "append") -> None:
    schema = lake_arrow_schema(table)
    full = [{name: row.get(name) for name in schema.names} for row in rows]
    write_deltalake(
        lake.url(table.name),
        pa.Table.from_pylist(full, schema=schema),
        mode=mode,
        partition_by=[table.partition_column],
        storage_options=lake.storage_options() or None,
    )


def raw_row(meter: str, at: datetime, energy: float, anomaly: bool = False) -> dict[str, Any]:
    return {
        "meter_id": meter,
        "timestamp": at,
        "energy_kwh": energy,
        "is_anomaly": anomaly,
        "anomaly_reasons": ["extreme_consumption"] if anomaly else [],
        "reading_date": at.date(),
        "kafka_partition": 0,
        "kafka_offset": 0,
    }


def rejected_row(meter: str | None, stamp: str | None, reason: str, ingest: date) -> dict[str, Any]:
    return {
        "reason": reason,
        "raw_value": "{}",
        "topic": "t",
        "meter_id": meter,
        "timestamp": stamp,
        "ingest_date": ingest,
        "kafka_partition": 0,
        "kafka_offset": 1,
        "kafka_timestamp": datetime(2026, 1, 1),
    }
