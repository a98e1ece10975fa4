"""Micro-batches into the Delta lake: exactly once per batch, each reading once, aggregates right.

Batches are made by the real transforms on a local Spark session, then written by the real
writer to a local folder and to S3 (moto's HTTP server).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyspark.sql import SparkSession

from smartmeter_assets.contracts import AGGREGATED, ANOMALIES, RAW, REJECTED, TIMESTAMP_FORMAT
from smartmeter_assets.lake.delta import open_table, read_table
from smartmeter_assets.lake.progress import read_progress
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.lake_writer import LakeWriter, committed_version, writer_id
from smartmeter_assets.stream.reconcile import aggregate_differences, reconcile_aggregates
from smartmeter_assets.stream.transforms import KAFKA_SCHEMA, anomaly_thresholds, classify
from smartmeter_assets.stream.window import WindowSpec

pytestmark = pytest.mark.spark
QUERY = "test_query"
STREAM = "checkpoint-a"  # the checkpoint's identity (Spark's query id)
WRITER = writer_id(QUERY, STREAM)
SETTINGS = Settings()
WINDOWS = WindowSpec.from_settings(SETTINGS)


def reading(meter: int, at: datetime, energy: float) -> dict[str, Any]:
    return {
        "meter_id": f"MAC{meter:06d}",
        "timestamp": at.strftime(TIMESTAMP_FORMAT),
        "energy_kwh": energy,
        "tariff_type": "Std" if meter % 2 else "ToU",
        "acorn_group": "ACORN-A",
        "acorn_category": "Affluent" if meter % 3 else None,
        "temperature": None if meter % 5 == 0 else 3.0 + meter,
        "humidity": 0.8,
        "wind_speed": 3.0,
        "cloud_cover": None,
        "weather_summary": "Clear",
        "precip_intensity": None,
        "pressure": None,
        "ingestion_time": "2026-01-05T12:00:00.000Z",
    }


def day_of_readings(day: datetime, meters: int = 4) -> list[dict[str, Any]]:
    return [
        reading(m, day + timedelta(minutes=30 * h), round(0.01 * ((m + h) % 40), 3))
        for h in range(48)
        for m in range(1, meters + 1)
    ]


def batch(spark: SparkSession, values: list[Any], first_offset: int) -> pa.Table:
    rows = []
    for i, value in enumerate(values):
        encoded = value if isinstance(value, str) else json.dumps(value)
        rows.append((b"k", encoded.encode(), "t", i % 3, first_offset + i, datetime(2026, 1, 5), 0))
    return classify(spark.createDataFrame(rows, KAFKA_SCHEMA), anomaly_thresholds(SETTINGS)).toArrow()


def count(lake: Lake, table: Any) -> int:
    return read_table(lake, table).num_rows


def test_batches_land_once_and_replays_are_skipped(spark: SparkSession, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    writer = LakeWriter(lake, QUERY, STREAM, WINDOWS)
    day = datetime(2013, 1, 5)
    first = batch(spark, [*day_of_readings(day), "{poison", reading(1, day, 3.0)], 0)  # + a dup key
    result = writer.write_batch(first, 0)
    assert (result.raw_rows_written, result.rejected_rows, result.duplicate_rows) == (192, 1, 1)
    assert result.late_rows_dropped == 0 and result.anomaly_rows == 0
    versions = {t.name: open_table(lake, t).version() for t in (RAW, REJECTED, AGGREGATED)}

    replay = writer.write_batch(first, 0)  # a crash after the commits: Spark runs batch 0 again
    assert replay.raw_rows_written == 0 and set(replay.replayed_tables) == {
        "raw",
        "rejected",
        "anomalies",
        "aggregated",
    }
    assert {t.name: open_table(lake, t).version() for t in (RAW, REJECTED, AGGREGATED)} == versions

    # the same day re-published, plus the next day with a spike: only the new day is new
    second = batch(
        spark,
        [
            *day_of_readings(day),
            *day_of_readings(day + timedelta(days=1)),
            reading(9, day + timedelta(days=1, hours=3), 2.5),
        ],
        1000,
    )
    result = writer.write_batch(second, 1)
    assert (result.raw_rows_written, result.duplicate_rows) == (193, 192)
    assert result.anomaly_rows == 1
    raw = read_table(lake, RAW)
    assert raw.num_rows == 192 * 2 + 1
    keys = set(zip(raw["meter_id"].to_pylist(), raw["timestamp"].to_pylist(), strict=True))
    assert len(keys) == raw.num_rows
    assert count(lake, REJECTED) == 1
    assert read_table(lake, ANOMALIES)["anomaly_reasons"].to_pylist() == [["extreme_consumption", "night_consumption"]]
    assert committed_version(lake, RAW, WRITER) == 1
    assert reconcile_aggregates(lake, WINDOWS) == []
    assert count(lake, AGGREGATED) > 0


def test_a_crash_between_tables_is_completed_by_the_replay(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    writer = LakeWriter(lake, QUERY, STREAM, WINDOWS)
    day = datetime(2013, 3, 9)
    writer.write_batch(batch(spark, day_of_readings(day), 0), 0)
    spiky = [*day_of_readings(day + timedelta(days=1)), reading(7, day + timedelta(days=1, hours=12), 4.0), "oops"]
    second = batch(spark, spiky, 500)

    real_commit = LakeWriter._commit

    def crash_on_raw(self: LakeWriter, table: Any, *args: Any, **kwargs: Any) -> None:
        if table is RAW:
            raise RuntimeError("killed before raw/ committed")
        real_commit(self, table, *args, **kwargs)

    monkeypatch.setattr(LakeWriter, "_commit", crash_on_raw)
    with pytest.raises(RuntimeError):
        writer.write_batch(second, 1)
    assert count(lake, RAW) == 192 and count(lake, REJECTED) == 1 and count(lake, ANOMALIES) == 1
    monkeypatch.setattr(LakeWriter, "_commit", real_commit)

    result = LakeWriter(lake, QUERY, STREAM, WINDOWS).write_batch(second, 1)  # the restarted job
    assert sorted(result.replayed_tables) == ["aggregated", "anomalies", "progress", "rejected"]
    assert result.raw_rows_written == 193
    assert (count(lake, RAW), count(lake, REJECTED), count(lake, ANOMALIES)) == (385, 1, 1)
    assert reconcile_aggregates(lake, WINDOWS) == []


def reading_count(lake: Lake) -> int:
    return int(pc.sum(read_table(lake, AGGREGATED)["reading_count"]).as_py() or 0)


def test_late_and_out_of_order_readings_are_all_aggregated(spark: SparkSession, tmp_path: Path) -> None:
    """No watermark: a day published after a later one, and a straggler, are counted like the rest."""
    lake = Lake(str(tmp_path / "lake"))
    writer = LakeWriter(lake, QUERY, STREAM, WINDOWS)
    june = datetime(2013, 6, 1)
    writer.write_batch(batch(spark, day_of_readings(june + timedelta(days=9)), 0), 0)  # June 10 first
    writer.write_batch(batch(spark, day_of_readings(june + timedelta(days=8)), 500), 1)  # then June 9
    aggregated_june_10 = read_table(lake, AGGREGATED).filter(
        pc.field("window_date") == (june + timedelta(days=9)).date()
    )
    stragglers = [reading(99, june + timedelta(hours=20), 0.4), reading(98, june + timedelta(days=9, hours=1), 0.2)]
    result = writer.write_batch(batch(spark, [*day_of_readings(june), *stragglers], 1000), 2)  # June 1, late
    assert (result.late_rows_dropped, result.raw_rows_written) == (0, 194)
    assert count(lake, RAW) == 3 * 192 + 2
    assert reading_count(lake) == count(lake, RAW)  # 30-minute tumbling windows: one each
    assert reconcile_aggregates(lake, WINDOWS) == []
    # June 10's windows the straggler did not touch were left as they were (recomputed per day, per span)
    after = read_table(lake, AGGREGATED).filter(pc.field("window_date") == (june + timedelta(days=9)).date())
    untouched = after.filter(
        pc.field("window_start") != pa.scalar(june + timedelta(days=9, hours=1), pa.timestamp("us"))
    )
    before = aggregated_june_10.filter(
        pc.field("window_start") != pa.scalar(june + timedelta(days=9, hours=1), pa.timestamp("us"))
    )
    assert aggregate_differences(before, untouched) == []
    assert after.num_rows > untouched.num_rows


def test_sliding_windows_match_the_batch_recomputation_in_any_order(spark: SparkSession, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    windows = WindowSpec(timedelta(minutes=60), timedelta(minutes=30))
    writer = LakeWriter(lake, QUERY, STREAM, windows)
    day = datetime(2013, 6, 1)
    readings = day_of_readings(day, meters=3) + day_of_readings(day + timedelta(days=1), meters=3)
    starts = list(range(0, len(readings), 100))
    order = starts[1::2] + starts[::-2]  # odd chunks forward, then even ones backward: across midnight
    for batch_id, start in enumerate(order):
        writer.write_batch(batch(spark, readings[start : start + 100], start), batch_id)
    assert count(lake, RAW) == len(readings)
    assert reconcile_aggregates(lake, windows) == []
    assert reading_count(lake) == 2 * len(readings)


def test_the_same_writer_writes_to_s3(spark: SparkSession, s3_lake_url: str) -> None:
    lake = Lake(s3_lake_url)
    writer = LakeWriter(lake, QUERY, STREAM, WINDOWS)
    day = datetime(2013, 1, 5)
    first = batch(spark, [*day_of_readings(day), "not json"], 0)
    writer.write_batch(first, 0)
    writer.write_batch(first, 0)
    assert (count(lake, RAW), count(lake, REJECTED)) == (192, 1)
    assert committed_version(lake, REJECTED, WRITER) == 0
    assert reconcile_aggregates(lake, WINDOWS) == []


def test_a_new_checkpoint_rereading_the_topic_skips_nothing_and_doubles_nothing(
    spark: SparkSession, tmp_path: Path
) -> None:
    """A deleted checkpoint restarts batch ids at 0: its batches must not pass for the old ones."""
    lake = Lake(str(tmp_path / "lake"))
    day = datetime(2013, 3, 9)
    first = batch(spark, [*day_of_readings(day), "not json"], 0)
    old = LakeWriter(lake, QUERY, STREAM, WINDOWS)
    old.write_batch(first, 0)
    old.write_batch(batch(spark, day_of_readings(day + timedelta(days=1)), 193), 1)

    again = batch(spark, [*day_of_readings(day), "not json", *day_of_readings(day + timedelta(days=2))], 0)
    new = LakeWriter(lake, QUERY, "checkpoint-b", WINDOWS)
    result = new.write_batch(again, 0)  # batch 0 again, under a new identity: written, not skipped

    assert result.replayed_tables == []
    assert (result.raw_rows_written, result.duplicate_rows) == (192, 192)
    assert (result.rejected_rows, result.duplicate_rejects) == (0, 1)
    assert (count(lake, RAW), count(lake, REJECTED)) == (3 * 192, 1)
    assert reconcile_aggregates(lake, WINDOWS) == []
    recorded = read_progress(lake).to_pylist()  # figures committed with each batch, per writer
    assert sorted((r["writer_id"], r["batch_id"]) for r in recorded) == [
        (WRITER, 0), (WRITER, 1), (writer_id(QUERY, "checkpoint-b"), 0)
    ]  # fmt: skip
    assert [r["raw_rows_written"] for r in recorded if r["writer_id"] != WRITER] == [192]
