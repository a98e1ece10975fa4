"""One micro-batch on the driver, as Arrow: split, de-duplicate, keep only what the lake lacks.

Pure pyarrow functions. The batch arrives here as the classified frame of
:func:`smartmeter_assets.stream.transforms.classify`, collected once (design.md section 3: batches
are bounded, a few MB), so Kafka is read once per batch whatever the number of outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smartmeter_assets.contracts import RAW, READING_KEY, REJECTED
from smartmeter_assets.lake.schema import lake_arrow_schema
from smartmeter_assets.stream.transforms import REASON, REJECT_SOURCE_COLUMNS

_ROW = "__row"


def _to_lake_types(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Spark hands timestamps over as UTC-zoned; the lake stores them zone-less (Delta timestamp_ntz)."""
    columns = []
    for field in schema:
        column = table[field.name]
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = pc.cast(column, pa.timestamp(column.type.unit, tz="UTC")).cast(pa.timestamp("us"))
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def split_classified(classified: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(readings with the raw table's schema, rejects with the rejected table's schema)."""
    valid = pc.is_null(classified[REASON])
    readings = _to_lake_types(classified.filter(valid).select(list(RAW.column_names)), lake_arrow_schema(RAW))
    rejected_part = classified.filter(pc.invert(valid))
    sources = [REJECT_SOURCE_COLUMNS[name] for name in REJECTED.column_names]
    rejects = rejected_part.select(sources).rename_columns(list(REJECTED.column_names))
    return readings, _to_lake_types(rejects, lake_arrow_schema(REJECTED))


def _row_numbers(count: int) -> pa.Array:
    """0 .. count - 1: a batch's row positions, carried through a group-by or a join."""
    return pa.array(np.arange(count, dtype=np.int64))


def first_of_each_reading(readings: pa.Table) -> pa.Table:
    """One row per (meter_id, timestamp): the one published first (lowest partition, offset).

    A producer retry or a re-published day puts the same reading in the batch twice; the first
    copy wins so a replay of the same offsets always keeps the same row. Only the order and the
    keys are sorted; the whole batch (25 columns) is taken once, and not at all when it comes
    already in order without a duplicate, as Spark hands a batch over (partition by partition).
    """
    if readings.num_rows == 0:
        return readings
    order = pc.sort_indices(readings, [("kafka_partition", "ascending"), ("kafka_offset", "ascending")])
    rows = _row_numbers(readings.num_rows)
    indexed = readings.select(list(READING_KEY)).take(order).append_column(_ROW, rows)
    firsts = indexed.group_by(list(READING_KEY), use_threads=False).aggregate([(_ROW, "min")])
    if firsts.num_rows == readings.num_rows and pc.all(pc.equal(order, rows)).as_py():
        return readings
    firsts_in_order = pc.take(firsts[f"{_ROW}_min"], pc.sort_indices(firsts[f"{_ROW}_min"]))
    return readings.take(pc.take(order, firsts_in_order))


def not_in(rows: pa.Table, existing_keys: pa.Table, key: Sequence[str] = READING_KEY) -> pa.Table:
    """The rows whose ``key`` (default (meter_id, timestamp)) is not among ``existing_keys`` (order kept)."""
    if rows.num_rows == 0 or existing_keys.num_rows == 0:
        return rows
    # Acero's hash join does not carry list columns (anomaly_reasons): join row numbers only.
    keys = rows.select(list(key)).append_column(_ROW, _row_numbers(rows.num_rows))
    existing = existing_keys.select(list(key)).cast(keys.select(list(key)).schema)
    missing = keys.join(existing, list(key), join_type="left anti", use_threads=False)
    return rows.take(pc.take(missing[_ROW], pc.sort_indices(missing[_ROW])))


def partition_ends(classified: pa.Table) -> dict[int, int]:
    """Next offset per Kafka partition read in the batch (max offset + 1), from the rows themselves."""
    if classified.num_rows == 0:
        return {}
    ends = classified.group_by("kafka_partition", use_threads=False).aggregate([("kafka_offset", "max")])
    return {
        int(p): int(o) + 1
        for p, o in zip(ends["kafka_partition"].to_pylist(), ends["kafka_offset_max"].to_pylist(), strict=True)
    }
