"""Lake maintenance: small files compacted, old files vacuumed, logs checkpointed, nothing changed.

The tables are written by the real lake writer from batches classified by a real Spark session,
then the Dagster job runs on them; every reading, aggregate and app transaction must be as before,
and the stream must go on writing exactly once afterwards.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from smartmeter_assets.contracts import AGGREGATED, RAW, LakeTable
from smartmeter_assets.defs.lake.maintenance import build_maintenance_job
from smartmeter_assets.defs.lake.resources import LakeResource
from smartmeter_assets.lake.delta import open_table, read_table
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.stream.lake_writer import LakeWriter, committed_version
from smartmeter_assets.stream.reconcile import reconcile_aggregates
from smartmeter_assets_tests.test_stream_lake_writer import QUERY, STREAM, WINDOWS, WRITER, batch, day_of_readings

pytestmark = pytest.mark.spark


def files(lake: Lake, table: LakeTable) -> int:
    delta = open_table(lake, table)
    assert delta is not None
    return len(delta.file_uris())


def test_maintenance_compacts_settled_days_vacuums_and_checkpoints_without_changing_data(
    spark: SparkSession, tmp_path: Path
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    writer = LakeWriter(lake, QUERY, STREAM, WINDOWS)
    first = datetime(2013, 3, 4)
    batches = []
    for day in range(4):  # 4 days, each in 4 small batches: 4 files per day and table
        readings = day_of_readings(first + timedelta(days=day))
        for part in range(4):
            batches.append(batch(spark, readings[part * 48 : (part + 1) * 48], 1000 * len(batches)))
    for batch_id, classified in enumerate(batches):
        writer.write_batch(classified, batch_id)
    raw_before = read_table(lake, RAW).sort_by([("meter_id", "ascending"), ("timestamp", "ascending")])
    files_before = files(lake, RAW)
    assert files_before == 16

    result = build_maintenance_job().execute_in_process(
        resources={"lake": LakeResource(url=lake.root)},
        run_config={"ops": {"maintain": {"config": {"retention_hours": 0, "settle_days": 1}}}},
    )

    assert result.success
    # days 1-2 are settled (older than the newest day minus one): one file each; days 3-4 keep 4 each
    assert files(lake, RAW) == 1 + 1 + 4 + 4
    assert sorted(p.name for p in (tmp_path / "lake" / "raw" / "_delta_log").glob("*.checkpoint.parquet"))
    raw_files_on_disk = [f for f in (tmp_path / "lake" / "raw").rglob("*.parquet") if "_delta_log" not in f.parts]
    assert len(raw_files_on_disk) == 10  # the compacted-away files are vacuumed (retention 0)
    raw_after = read_table(lake, RAW).sort_by([("meter_id", "ascending"), ("timestamp", "ascending")])
    assert raw_after.equals(raw_before)
    assert committed_version(lake, RAW, WRITER) == len(batches) - 1  # app transactions survive
    assert reconcile_aggregates(lake, WINDOWS) == []

    # the stream goes on exactly once: a replayed batch is skipped, a new one lands
    replay = writer.write_batch(batches[-1], len(batches) - 1)
    assert "raw" in replay.replayed_tables
    fifth = day_of_readings(first + timedelta(days=4))
    writer.write_batch(batch(spark, fifth, 100_000), len(batches))
    assert read_table(lake, RAW).num_rows == raw_before.num_rows + len(fifth)
    assert reconcile_aggregates(lake, WINDOWS) == []
    assert files(lake, AGGREGATED) < 16 + 1
