"""Reconciliation on keys at full scale: a day of every London meter (5,566 x 48 = 267k readings).

Builds a lake in a temp folder: the staged day (Parquet, as staging writes it), its publish record
(with the key digest), raw/ holding all but 1,000 of its readings and a few rejects; then times
the key digest of the day (what each publish adds) and the whole key comparison the check runs,
and prints the ratio of the comparison to a plain count of raw/ keys (the old count check's work).

    .venv/bin/python benchmarks/reconciliation.py --days 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from deltalake import write_deltalake

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from smartmeter_assets.contracts import RAW, SOURCES_DIR  # noqa: E402
from smartmeter_assets.exit_status import run_entry_point  # noqa: E402
from smartmeter_assets.kafka.publish import (  # noqa: E402
    PartitionReport,
    PublishReport,
)
from smartmeter_assets.lake.delta import table_dataset  # noqa: E402
from smartmeter_assets.lake.published import publish_records, write_publish_records  # noqa: E402
from smartmeter_assets.lake.reading_keys import key_digest  # noqa: E402
from smartmeter_assets.lake.schema import lake_arrow_schema  # noqa: E402
from smartmeter_assets.lake.storage import Lake  # noqa: E402
from smartmeter_assets.sources.staging import READINGS_DIR, STAGED_PARTITIONING  # noqa: E402
from smartmeter_assets.stream.landing import compare_published_keys  # noqa: E402

LOST = 1_000


def day_keys(day: date, meters: int) -> pa.Table:
    start = datetime(day.year, day.month, day.day)
    stamps = [start + timedelta(minutes=30 * i) for i in range(48)]
    return pa.table(
        {
            "meter_id": pa.array([f"MAC{m:06d}" for m in range(meters) for _ in stamps]),
            "timestamp": pa.array([s for _ in range(meters) for s in stamps], pa.timestamp("ms")),
        }
    )


def build(lake: Lake, days: list[date], meters: int) -> float:
    """The lake; returns the seconds the key digests of the days took (the publish's extra work)."""
    digest_seconds = 0.0
    schema = lake_arrow_schema(RAW)
    for day in days:
        keys = day_keys(day, meters)
        staged = keys.append_column("energy_kwh", pa.array([0.1] * keys.num_rows)).append_column(
            "reading_date", pa.array([day] * keys.num_rows, pa.date32())
        )
        pads.write_dataset(
            staged, lake.path(SOURCES_DIR, READINGS_DIR), format="parquet",
            partitioning=STAGED_PARTITIONING,
            existing_data_behavior="overwrite_or_ignore", basename_template=f"block_0-{day}-{{i}}.parquet",
        )  # fmt: skip
        started = time.perf_counter()
        texts = pc.strftime(keys["timestamp"].cast(pa.timestamp("s")), format="%Y-%m-%d %H:%M:%S")
        digest = key_digest(pa.table({"meter_id": keys["meter_id"], "timestamp": texts}))
        digest_seconds += time.perf_counter() - started
        report = PublishReport("t", keys.num_rows, 0, 1.0, 1, [PartitionReport(0, keys.num_rows, 0, 0, keys.num_rows)])
        write_publish_records(lake, publish_records(report, day, "bench", datetime.now(UTC), key_digest=digest))
        landed = keys.slice(LOST)
        columns = {name: pa.nulls(landed.num_rows, schema.field(name).type) for name in schema.names}
        columns.update(
            meter_id=landed["meter_id"], timestamp=landed["timestamp"].cast(pa.timestamp("us")),
            reading_date=pa.array([day] * landed.num_rows, pa.date32()),
        )  # fmt: skip
        write_deltalake(
            lake.url(RAW.name), pa.table(columns, schema=schema), mode="append", partition_by=["reading_date"]
        )
    return digest_seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--meters", type=int, default=5_566)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    lake = Lake(tempfile.mkdtemp(prefix="bench-reconcile-"))
    days = [date(2013, 1, 7) + timedelta(days=i) for i in range(arguments.days)]
    digest_seconds = build(lake, days, arguments.meters)
    readings = arguments.meters * 48 * arguments.days

    compare, count = [], []
    for _ in range(arguments.repeat):
        started = time.perf_counter()
        comparison = compare_published_keys(lake)
        compare.append(time.perf_counter() - started)
        started = time.perf_counter()
        with duckdb.connect() as con:
            con.register("raw", table_dataset(lake, RAW))
            con.execute("SELECT reading_date, count(DISTINCT (meter_id, timestamp)) FROM raw GROUP BY ALL").fetchall()
        count.append(time.perf_counter() - started)
    missing = sum(d.missing for d in comparison.days)
    assert missing == LOST * arguments.days, missing
    best, baseline = min(compare), min(count)
    print(f"{arguments.days} day(s), {readings:,} published readings, {missing:,} missing (found, sampled)")
    print(f"key digest at publish: {digest_seconds / arguments.days:.3f} s per day")
    print(f"key comparison (best of {arguments.repeat}): {best:.3f} s = {readings / best:,.0f} readings/s")
    print(f"distinct-key count of raw/ alone: {baseline:.3f} s; comparison / count = {best / baseline:.1f}x")
    return 0


if __name__ == "__main__":
    run_entry_point(main)
