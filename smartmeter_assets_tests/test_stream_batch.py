"""The driver-side batch functions on hand-made Arrow tables: which copy of a reading is kept, and in what order.

The expected rows come from a plain Python reference (sort by partition and offset, keep the
first of each key), never from the Arrow code under test.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pyarrow as pa

from smartmeter_assets.stream.batch import first_of_each_reading, not_in


def batch(rows: list[tuple[str, datetime, int, int]]) -> pa.Table:
    """(meter_id, timestamp, kafka_partition, kafka_offset) rows plus a payload naming each row."""
    meters, stamps, partitions, offsets = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pa.table(
        {
            "meter_id": pa.array(meters, pa.string()),
            "timestamp": pa.array(stamps, pa.timestamp("us")),
            "kafka_partition": pa.array(partitions, pa.int32()),
            "kafka_offset": pa.array(offsets, pa.int64()),
            "anomaly_reasons": pa.array([[f"p{p}o{o}"] for *_, p, o in rows], pa.list_(pa.string())),
        }
    )


def reference(rows: list[tuple[str, datetime, int, int]]) -> list[tuple[str, datetime, int, int]]:
    kept, seen = [], set()
    for row in sorted(rows, key=lambda r: (r[2], r[3])):
        if (row[0], row[1]) not in seen:
            seen.add((row[0], row[1]))
            kept.append(row)
    return kept


def as_rows(table: pa.Table) -> list[tuple[str, datetime, int, int]]:
    columns = [table[name].to_pylist() for name in ("meter_id", "timestamp", "kafka_partition", "kafka_offset")]
    return list(zip(*columns, strict=True))


START = datetime(2013, 1, 1)


def test_the_first_published_copy_of_each_reading_is_kept_in_publish_order() -> None:
    rng = random.Random(7)
    rows = []
    for offset in range(400):
        meter, stamp = f"MAC{rng.randrange(20):06d}", START + timedelta(minutes=30 * rng.randrange(10))
        rows.append((meter, stamp, rng.randrange(3), offset))
    rng.shuffle(rows)  # out of order, and many keys twice or more (20 meters x 10 half-hours < 400)
    kept = first_of_each_reading(batch(rows))
    assert as_rows(kept) == reference(rows)
    assert kept["anomaly_reasons"].to_pylist() == [[f"p{p}o{o}"] for *_, p, o in reference(rows)]  # whole rows


def test_a_batch_in_order_without_duplicates_comes_back_as_it_is() -> None:
    rows = [(f"MAC{m:06d}", START + timedelta(hours=p), p, 10 * p + m) for p in range(3) for m in range(5)]
    table = batch(rows)
    assert first_of_each_reading(table) is table
    swapped = batch([rows[1], rows[0], *rows[2:]])  # no duplicate, but out of order: put in order
    assert as_rows(first_of_each_reading(swapped)) == rows


def test_an_empty_batch_and_the_rows_the_lake_lacks() -> None:
    assert first_of_each_reading(batch([])).num_rows == 0
    rows = [(f"MAC{m:06d}", START, 0, m) for m in range(6)]
    existing = batch(rows[::2]).select(["meter_id", "timestamp"])
    assert as_rows(not_in(batch(rows), existing)) == rows[1::2]
