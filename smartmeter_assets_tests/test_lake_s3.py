"""The lake on S3, for real: moto's HTTP server stands in for MinIO, reached only by AWS_* variables.

Given a bucket made by the same code ``init-infra`` runs in production, the lake's pyarrow
filesystem and delta-rs storage options must write and read Parquet files and Delta tables over
HTTP, a replayed micro-batch must be recognised by its app transaction there as well as on disk,
and the project's IO manager, lake observation and report queries must work on it unchanged.
(The stream's lake writer is tested on S3 in test_stream_lake_writer.py.)
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import asset, materialize
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

from smartmeter_assets.contracts import AGGREGATED, RAW, SOURCES_DIR
from smartmeter_assets.defs.lake.io_manager import LakeParquetIOManager, read_frame
from smartmeter_assets.lake.bucket import BucketError, bucket_of, ensure_bucket, s3_client
from smartmeter_assets.lake.observation import observe_table
from smartmeter_assets.lake.schema import lake_arrow_schema
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.reports.lake_query import NoLakeDataError, lake_connection, require_rows

from .lake_builder import raw_row, write_rows


def _aggregates(window_date: date, rows: int) -> pa.Table:
    """A few windowed aggregates shaped exactly like the lake's ``aggregated`` table."""
    schema = lake_arrow_schema(AGGREGATED)
    start = datetime(window_date.year, window_date.month, window_date.day)
    columns = {
        "window_start": [start.replace(hour=i % 24) for i in range(rows)],
        "window_end": [start.replace(hour=i % 24, minute=30) for i in range(rows)],
        "acorn_category": ["Affluent"] * rows,
        "acorn_group": ["ACORN-A"] * rows,
        "tariff_type": ["Std"] * rows,
        "temperature_band": ["Mild"] * rows,
        "total_energy_kwh": [0.5 * i for i in range(rows)],
        "avg_energy_kwh": [0.25] * rows,
        "max_energy_kwh": [1.0] * rows,
        "reading_count": list(range(rows)),
        "distinct_meters": [2] * rows,
        "avg_temperature": [None] * rows,  # weather may be missing: nulls must survive S3 too
        "anomaly_count": [0] * rows,
        "window_date": [window_date] * rows,
    }
    return pa.table(columns, schema=schema)


def _keys(bucket: str, prefix: str) -> list[str]:
    listing = s3_client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_ensure_bucket_creates_once_and_is_idempotent(s3_endpoint: str) -> None:
    bucket = f"smart-meter-data-{uuid.uuid4().hex[:12]}"
    assert ensure_bucket(bucket) is True
    assert ensure_bucket(bucket) is False  # every init-infra run after the first
    names = [b["Name"] for b in s3_client().list_buckets()["Buckets"]]
    assert names.count(bucket) == 1


@pytest.mark.parametrize("name", ["Smart_Meter", "ab", "-leading-hyphen", "a..b", "192.168.1.10"])
def test_ensure_bucket_refuses_invalid_names_before_calling_s3(s3_endpoint: str, name: str) -> None:
    with pytest.raises(BucketError, match="not a valid S3 bucket name"):
        ensure_bucket(name)


def test_bucket_of_reads_the_bucket_from_the_lake_root() -> None:
    assert bucket_of("s3://smart-meter-data") == "smart-meter-data"
    assert bucket_of("s3a://smart-meter-data/prod/lake") == "smart-meter-data"
    with pytest.raises(BucketError, match="not on S3"):
        bucket_of("/var/lib/smartmeter/lake")


def test_parquet_round_trips_through_the_lake_filesystem(s3_lake_url: str) -> None:
    lake = Lake(s3_lake_url)
    filesystem, root = lake.filesystem()
    table = _aggregates(date(2013, 1, 5), rows=48)
    path = lake.path(SOURCES_DIR, "aggregates-2013-01-05.parquet")
    assert path.startswith(root)

    pq.write_table(table, path, filesystem=filesystem)

    assert pq.read_table(path, filesystem=filesystem).equals(table)
    bucket = bucket_of(s3_lake_url)
    assert _keys(bucket, "lake/") == [f"lake/{SOURCES_DIR}/aggregates-2013-01-05.parquet"]


def test_delta_table_is_written_and_read_over_http(s3_lake_url: str) -> None:
    lake = Lake(s3_lake_url)
    url, options = lake.url(AGGREGATED.name), lake.storage_options()
    first, second = _aggregates(date(2013, 1, 5), 10), _aggregates(date(2013, 1, 6), 7)

    write_deltalake(url, first, partition_by=[AGGREGATED.partition_column], storage_options=options)
    write_deltalake(url, second, mode="append", storage_options=options)

    table = DeltaTable(url, storage_options=options)
    assert table.version() == 1
    read = table.to_pyarrow_table().sort_by([("window_date", "ascending"), ("window_start", "ascending")])
    assert read.select(first.column_names).equals(pa.concat_tables([first, second]))
    keys = _keys(bucket_of(s3_lake_url), f"lake/{AGGREGATED.name}/")
    assert f"lake/{AGGREGATED.name}/_delta_log/00000000000000000001.json" in keys
    assert any(key.startswith(f"lake/{AGGREGATED.name}/window_date=2013-01-06/") for key in keys)


def test_replayed_batch_is_recognised_by_its_app_transaction_on_s3(s3_lake_url: str) -> None:
    """The exactly-once rule of design.md section 3 works on S3, not only on a local folder."""
    lake = Lake(s3_lake_url)
    url, options = lake.url(AGGREGATED.name), lake.storage_options()
    batch = _aggregates(date(2013, 2, 1), 5)

    def commit(batch_id: int) -> None:
        if DeltaTable.is_deltatable(url, options):
            done = DeltaTable(url, storage_options=options).transaction_version("smart_meter_stream")
            if done is not None and done >= batch_id:
                return  # committed before the crash: skip, write nothing twice
        write_deltalake(
            url,
            batch,
            mode="append",
            storage_options=options,
            commit_properties=CommitProperties(app_transactions=[Transaction("smart_meter_stream", batch_id)]),
        )

    commit(0)
    commit(0)  # the same micro-batch replayed after a restart

    table = DeltaTable(url, storage_options=options)
    assert table.transaction_version("smart_meter_stream") == 0
    assert table.to_pyarrow_table().num_rows == batch.num_rows


def test_io_manager_stores_asset_outputs_in_the_bucket(s3_lake_url: str) -> None:
    """Dagster runs in production share no disk, only the bucket: outputs go there and come back."""

    @asset
    def households() -> pd.DataFrame:
        return pd.DataFrame({"meter_id": ["MAC000002", "MAC000003"], "tariff_type": ["Std", "ToU"]})

    @asset
    def household_count(households: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"households": [len(households)]})

    result = materialize([households, household_count], resources={"io_manager": LakeParquetIOManager(url=s3_lake_url)})

    assert result.success
    keys = [k for k in _keys(bucket_of(s3_lake_url), f"lake/{SOURCES_DIR}/") if not k.endswith("/")]  # dir markers
    assert keys == [f"lake/{SOURCES_DIR}/household_count.parquet", f"lake/{SOURCES_DIR}/households.parquet"]
    assert read_frame(Lake(s3_lake_url), "household_count")["households"].tolist() == [2]


def test_lake_observation_reads_the_delta_log_on_s3(s3_lake_url: str) -> None:
    lake = Lake(s3_lake_url)
    assert observe_table(lake, RAW).version is None  # nothing landed yet: observed as empty
    day = datetime(2013, 1, 5)
    write_rows(lake, RAW, [raw_row("MAC000002", day.replace(hour=h), 0.2) for h in range(3)])
    write_rows(lake, RAW, [raw_row("MAC000003", day.replace(hour=23, minute=30), 2.5, anomaly=True)])

    observed = observe_table(lake, RAW)

    assert (observed.version, observed.rows, observed.files) == (1, 4, 2)
    assert observed.newest_event_time == "2013-01-05 23:30:00"
    assert observed.rows_per_partition == {"2013-01-05": 4}


def test_report_queries_run_in_duckdb_over_the_s3_lake(s3_lake_url: str) -> None:
    lake = Lake(s3_lake_url)
    write_deltalake(
        lake.url(AGGREGATED.name), _aggregates(date(2013, 3, 1), 24), storage_options=lake.storage_options()
    )

    with lake_connection(lake) as db:
        total, windows = db.execute(
            "select sum(total_energy_kwh), count(*) from aggregated where acorn_category = 'Affluent'"
        ).fetchone()
        assert db.execute("select count(*) from anomalies").fetchone() == (0,)  # not written yet: empty
        with pytest.raises(NoLakeDataError):
            require_rows(db, RAW)

    assert windows == 24
    assert total == pytest.approx(0.5 * sum(range(24)))
