"""The whole stream job against a real tansu broker and a local Spark session.

Given readings (and poison) published to a topic, the job run until caught up fills the lake:
every reading in raw/ once, every poison message in rejected/ with its reason, aggregates equal
to a recomputation over raw/; a second run resumes from the checkpoint; a restarted (empty)
broker at a new address is read from its beginning without losing or doubling anything.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from pyspark.sql import SparkSession

from smartmeter_assets.contracts import AGGREGATED, RAW, REJECTED, StreamRejectReason
from smartmeter_assets.kafka.broker import EmbeddedBroker
from smartmeter_assets.lake.delta import read_table
from smartmeter_assets.lake.progress import read_progress
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.checkpoint import committed_offsets
from smartmeter_assets.stream.job import run_stream
from smartmeter_assets.stream.kafka_source import TopicProbe
from smartmeter_assets.stream.progress import BATCH_KEYS
from smartmeter_assets.stream.reconcile import reconcile_aggregates
from smartmeter_assets.stream.window import WindowSpec
from smartmeter_assets_tests.stream_readings import Published, ensure_topic, publish

pytestmark = [pytest.mark.spark, pytest.mark.kafka]
METERS = 40


def lake_keys(lake: Lake) -> list[tuple[str, Any]]:
    raw = read_table(lake, RAW, columns=["meter_id", "timestamp"])
    return [
        (m, t.strftime("%Y-%m-%d %H:%M:%S"))
        for m, t in zip(raw["meter_id"].to_pylist(), raw["timestamp"].to_pylist(), strict=True)
    ]


def assert_lake_matches(lake: Lake, settings: Settings, published: Published) -> None:
    keys = lake_keys(lake)
    assert len(keys) == len(set(keys)), "a reading is in raw/ twice"
    assert set(keys) == published.readings
    rejected = read_table(lake, REJECTED)
    assert rejected.num_rows == published.poison
    assert set(rejected["reason"].to_pylist()) <= {r.value for r in StreamRejectReason}
    assert reconcile_aggregates(lake, WindowSpec.from_settings(settings)) == []


def test_the_job_fills_the_lake_and_resumes_from_its_checkpoint(
    spark: SparkSession, kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = Settings(
        home=tmp_path, kafka_bootstrap=kafka_bootstrap, kafka_topic=f"stream-{uuid.uuid4().hex[:8]}",
        spark_max_records_per_batch=1500,
    )  # fmt: skip
    ensure_topic(kafka_bootstrap, settings.kafka_topic)
    published = publish(kafka_bootstrap, settings.kafka_topic, 0, 48 * METERS, METERS, poison_every=500)
    publish(kafka_bootstrap, settings.kafka_topic, 0, 100, METERS, into=published)  # a producer retry
    assert published.republished == 100
    batches: list[dict[str, Any]] = []

    totals = run_stream(settings, available_now=True, on_batch=batches.append)

    lake = Lake.from_settings(settings)
    assert_lake_matches(lake, settings, published)
    assert len(batches) >= 2 and all(set(BATCH_KEYS) <= set(b) for b in batches)
    assert totals["input_rows"] == published.messages == sum(b["input_rows"] for b in batches)
    assert totals["rejected_rows"] == published.poison and totals["duplicate_rows"] == 100
    assert totals["late_rows_dropped"] == 0  # an in-order replay drops nothing with the defaults
    assert all(b["input_rows"] <= 1500 for b in batches)
    assert read_table(lake, AGGREGATED).num_rows > 0
    recorded = read_progress(lake).to_pylist()  # every batch's figures are kept in the lake, once
    assert sorted(r["batch_id"] for r in recorded) == [b["batch_id"] for b in batches]
    assert sum(r["input_rows"] for r in recorded) == totals["input_rows"]
    probe = TopicProbe(kafka_bootstrap, settings.kafka_topic)
    ends = probe.ends()
    probe.close()
    assert committed_offsets(settings) == ends == {int(p): o for p, o in batches[-1]["offsets"].items()}

    more = publish(kafka_bootstrap, settings.kafka_topic, 48 * METERS, 24 * METERS, METERS, poison_every=300)
    second = run_stream(settings, available_now=True)
    assert second["input_rows"] == more.messages  # only what is new since the checkpoint
    published.readings |= more.readings
    published.poison += more.poison
    assert_lake_matches(lake, settings, published)


def test_days_streamed_out_of_order_are_all_aggregated(
    spark: SparkSession, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A user backfilling older days after newer ones, in bulk and one by one: every reading counts.

    Day 5 first; then days 1, 2 and 4 in one bulk run (batches smaller than a day, so partitions
    are consumed unevenly); then day 3 alone. With a global watermark days 1-4 were dropped.
    """
    settings = Settings(
        home=tmp_path, kafka_bootstrap=kafka_bootstrap, kafka_topic=f"order-{uuid.uuid4().hex[:8]}",
        spark_max_records_per_batch=700,
    )  # fmt: skip
    ensure_topic(kafka_bootstrap, settings.kafka_topic)
    day = 48 * METERS
    lake = Lake.from_settings(settings)
    published = Published()
    dropped = 0
    for days in ((5,), (1, 2, 4), (3,)):
        for number in days:
            publish(
                kafka_bootstrap, settings.kafka_topic, (number - 1) * day, day, METERS, poison_every=900, into=published
            )
        totals = run_stream(settings, available_now=True)
        dropped += totals["late_rows_dropped"]
        assert_lake_matches(lake, settings, published)
        counted = pc.sum(read_table(lake, AGGREGATED)["reading_count"]).as_py()
        assert counted == read_table(lake, RAW, columns=["meter_id"]).num_rows == len(published.readings)
    assert dropped == 0
    assert len(published.readings) == 5 * day


def test_a_restarted_empty_broker_at_a_new_address_is_read_from_its_start(spark: SparkSession, tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home, kafka_topic="smart-meter-topic", spark_max_records_per_batch=5000)
    lake = Lake.from_settings(settings)
    with EmbeddedBroker(home=home) as broker:
        ensure_topic(broker.bootstrap, settings.kafka_topic)
        published = publish(broker.bootstrap, settings.kafka_topic, 0, 48 * METERS, METERS, poison_every=700)
        run_stream(settings, available_now=True)
        first_address = broker.bootstrap
    assert committed_offsets(settings)  # the checkpoint points far into a topic that is gone

    with EmbeddedBroker(home=home) as broker:  # in memory: empty, and on another port
        assert broker.bootstrap != first_address
        ensure_topic(broker.bootstrap, settings.kafka_topic)
        # the last day again (a re-published day) and a new day, fewer records than before
        again = publish(broker.bootstrap, settings.kafka_topic, 24 * METERS, 48 * METERS, METERS)
        totals = run_stream(settings, available_now=True)
    assert totals["input_rows"] == again.messages
    assert totals["duplicate_rows"] == 24 * METERS and totals["raw_rows_written"] == 24 * METERS
    published.readings |= again.readings
    assert_lake_matches(lake, settings, published)
    assert pc.max(read_table(lake, RAW)["timestamp"]).as_py().day == 2


def test_the_job_writes_the_lake_on_s3_with_a_local_checkpoint(
    spark: SparkSession, kafka_bootstrap: str, s3_lake_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        home=tmp_path, kafka_bootstrap=kafka_bootstrap, kafka_topic=f"s3-{uuid.uuid4().hex[:8]}",
        lake_url=s3_lake_url, stream_checkpoint_url=str(tmp_path / "checkpoint"),
        spark_max_records_per_batch=1000,
    )  # fmt: skip
    ensure_topic(kafka_bootstrap, settings.kafka_topic)
    published = publish(kafka_bootstrap, settings.kafka_topic, 0, 24 * METERS, METERS, poison_every=400)
    totals = run_stream(settings, available_now=True)
    lake = Lake.from_settings(settings)
    assert lake.is_s3 and totals["raw_rows_written"] == len(published.readings)
    assert_lake_matches(lake, settings, published)
    assert committed_offsets(settings)  # read from the local checkpoint folder
    assert (tmp_path / "checkpoint" / "commits").is_dir()
