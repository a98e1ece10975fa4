"""The whole stream job against a real Apache Kafka broker and a local Spark session.

Given readings (and poison) published to a topic, the job run until caught up fills the lake:
every reading in raw/ once, every poison message in rejected/ with its reason, aggregates equal
to a recomputation over raw/; a second run resumes from the checkpoint. At the edges: a restarted
broker keeps the topic and the stream goes on where it was; a deleted checkpoint on an existing
lake, and a deleted-and-recreated topic, lose nothing and double nothing.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from pyspark.sql import SparkSession

from smartmeter_assets.contracts import AGGREGATED, RAW, REJECTED, StreamRejectReason
from smartmeter_assets.kafka.broker import EmbeddedBroker
from smartmeter_assets.kafka.offsets import end_offsets
from smartmeter_assets.lake.delta import read_table
from smartmeter_assets.lake.progress import read_progress
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.checkpoint import checkpoint_location, committed_offsets
from smartmeter_assets.stream.drain import DrainTarget
from smartmeter_assets.stream.job import run_stream
from smartmeter_assets.stream.progress import BATCH_KEYS
from smartmeter_assets.stream.reconcile import reconcile_aggregates
from smartmeter_assets.stream.window import WindowSpec
from smartmeter_assets.testbed.stream_readings import Published, ensure_topic, publish
from smartmeter_assets_tests.topic_loss import delete_topic

pytestmark = [pytest.mark.spark, pytest.mark.kafka]
METERS = 40


def own_topic(tmp_path: Path, kafka_bootstrap: str, name: str, **settings: Any) -> Settings:
    """Settings for one test: its own home and a topic of its own on the shared broker."""
    return Settings(
        home=tmp_path, kafka_bootstrap=kafka_bootstrap, kafka_topic=f"{name}-{uuid.uuid4().hex[:8]}", **settings
    )


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
    settings = own_topic(tmp_path, kafka_bootstrap, "stream", spark_max_records_per_batch=1500)
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
    ends = end_offsets(kafka_bootstrap, settings.kafka_topic)
    assert committed_offsets(settings) == ends == {int(p): o for p, o in totals["offsets"].items()}

    more = publish(kafka_bootstrap, settings.kafka_topic, 48 * METERS, 24 * METERS, METERS, poison_every=300)
    second = run_stream(settings, available_now=True)
    assert second["input_rows"] == more.messages  # only what is new since the checkpoint
    published.readings |= more.readings
    published.poison += more.poison
    assert_lake_matches(lake, settings, published)


def test_a_draining_stream_consumes_while_publishing_goes_on_and_stops_at_the_target(
    spark: SparkSession, kafka_bootstrap: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``smartmeter run``'s overlap: the stream starts on day 1, day 2 is published while it runs,
    and it stops by itself once the drain target written after the last publish is in the lake.

    Once the target is written the rest is read without waiting for ticks: with a 60 s trigger,
    day 2 is read long before the next one, by a query restarted from the checkpoint.
    """
    caplog.set_level(logging.INFO, logger="smartmeter_assets.stream.job")
    settings = own_topic(tmp_path, kafka_bootstrap, "drain", spark_max_records_per_batch=1500, spark_trigger_seconds=60)
    ensure_topic(kafka_bootstrap, settings.kafka_topic)
    day = 48 * METERS
    published = publish(kafka_bootstrap, settings.kafka_topic, 0, day, METERS, poison_every=700)
    drain_file = tmp_path / "drain.json"
    first_batch = threading.Event()
    batches: list[dict[str, Any]] = []

    def on_batch(figures: dict[str, Any]) -> None:
        batches.append(figures)
        first_batch.set()

    def publisher() -> None:
        assert first_batch.wait(120), "the stream never ran a batch"
        publish(kafka_bootstrap, settings.kafka_topic, day, day, METERS, poison_every=700, into=published)
        DrainTarget(settings.kafka_topic, end_offsets(kafka_bootstrap, settings.kafka_topic)).write(drain_file)

    publishing = threading.Thread(target=publisher)
    publishing.start()
    totals = run_stream(settings, available_now=False, drain_file=drain_file, on_batch=on_batch)
    publishing.join()

    assert_lake_matches(Lake.from_settings(settings), settings, published)
    assert totals["input_rows"] == published.messages == sum(b["input_rows"] for b in batches)
    assert committed_offsets(settings) == end_offsets(kafka_bootstrap, settings.kafka_topic)
    assert batches[0]["input_rows"] <= day + published.poison  # the first batch ran before day 2 existed
    assert [b["batch_id"] for b in batches] == list(range(len(batches)))  # the restart went on, not over
    assert any("publishing ended" in r.getMessage() for r in caplog.records)
    assert len(batches) >= 3  # day 1's first batch, then the rest in batches of at most 1500


def test_a_drain_target_is_reached_when_every_partition_is_read_up_to_it(tmp_path: Path) -> None:
    path = tmp_path / "drain.json"
    assert DrainTarget.read(path) is None  # the publisher has not written it yet
    DrainTarget("t", {0: 10, 1: 0, 2: 5}).write(path)
    target = DrainTarget.read(path)
    assert target == DrainTarget("t", {0: 10, 1: 0, 2: 5})

    def progress(offsets: dict[str, int]) -> dict[str, Any]:
        return {"sources": [{"endOffset": json.dumps({"t": offsets, "other": {"0": 99}})}]}

    assert not target.reached(None)
    assert not target.reached(progress({"0": 10, "2": 4}))  # partition 2 short by one
    assert not target.reached(progress({"0": 10}))
    assert target.reached(progress({"0": 10, "2": 5}))  # partition 1 has nothing to wait for
    assert target.reached(progress({"0": 12, "1": 3, "2": 7}))
    assert DrainTarget("t", {0: 0}).reached(None)  # an empty topic: nothing to wait for


def test_days_streamed_out_of_order_are_all_aggregated(
    spark: SparkSession, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A user backfilling older days after newer ones, in bulk and one by one: every reading counts.

    Day 5 first; then days 1, 2 and 4 in one bulk run (batches smaller than a day, so partitions
    are consumed unevenly); then day 3 alone. With a global watermark days 1-4 were dropped.
    """
    settings = own_topic(tmp_path, kafka_bootstrap, "order", spark_max_records_per_batch=700)
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


def test_a_restarted_broker_keeps_the_topic_and_the_stream_goes_on_where_it_was(
    spark: SparkSession, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home, kafka_topic="smart-meter-topic", spark_max_records_per_batch=5000)
    lake = Lake.from_settings(settings)
    with EmbeddedBroker(home=home) as broker:
        ensure_topic(broker.bootstrap, settings.kafka_topic)
        published = publish(broker.bootstrap, settings.kafka_topic, 0, 24 * METERS, METERS, poison_every=700)
        run_stream(settings, available_now=True)
    with EmbeddedBroker(home=home) as broker:  # the log is on disk: same topic, same offsets
        more = publish(broker.bootstrap, settings.kafka_topic, 24 * METERS, 24 * METERS, METERS)
        totals = run_stream(settings, available_now=True)
    assert totals["input_rows"] == more.messages and totals["duplicate_rows"] == 0
    published.readings |= more.readings
    assert_lake_matches(lake, settings, published)


def test_a_deleted_checkpoint_on_an_existing_lake_loses_nothing(
    spark: SparkSession, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Batch ids restart at 0 under a new checkpoint: none may pass for a committed old batch."""
    settings = own_topic(tmp_path, kafka_bootstrap, "reset", spark_max_records_per_batch=1000)
    ensure_topic(kafka_bootstrap, settings.kafka_topic)
    published = publish(kafka_bootstrap, settings.kafka_topic, 0, 72 * METERS, METERS, poison_every=500)
    first = run_stream(settings, available_now=True)
    assert first["batches"] >= 3
    shutil.rmtree(checkpoint_location(settings))  # a user resets the checkpoint

    more = publish(kafka_bootstrap, settings.kafka_topic, 72 * METERS, 72 * METERS, METERS, poison_every=500)
    second = run_stream(settings, available_now=True)  # reads the whole topic again

    assert second["input_rows"] == published.messages + more.messages
    assert second["raw_rows_written"] == len(more.readings)
    assert second["duplicate_rows"] == len(published.readings)
    assert second["duplicate_rejects"] == published.poison and second["rejected_rows"] == more.poison
    published.readings |= more.readings
    published.poison += more.poison
    assert_lake_matches(lake := Lake.from_settings(settings), settings, published)
    assert read_table(lake, RAW).num_rows + read_table(lake, REJECTED).num_rows == published.messages + more.messages


def test_a_job_killed_while_writing_its_first_offsets_restarts_on_its_checkpoint(
    spark: SparkSession, kafka_bootstrap: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """kill -9 between Spark writing ``offsets/.0.<uuid>.tmp`` and renaming it to ``offsets/0``.

    Seen once in the kill test: every restart then failed with STATE_STORE_CHECKPOINT_LOCATION_NOT_EMPTY
    (offsets should be empty on batch 0). The files below are what that killed job left.
    """
    settings = own_topic(tmp_path, kafka_bootstrap, "torn", spark_max_records_per_batch=2000)
    ensure_topic(kafka_bootstrap, settings.kafka_topic)
    published = publish(kafka_bootstrap, settings.kafka_topic, 0, 48 * METERS, METERS, poison_every=700)
    root = Path(checkpoint_location(settings))
    (root / "commits").mkdir(parents=True)
    (root / "offsets").mkdir()
    (root / "metadata").write_text(json.dumps({"id": str(uuid.uuid4())}))
    torn = f"0.{uuid.uuid4()}.tmp"
    offsets = json.dumps({settings.kafka_topic: {"0": 9}})
    (root / "offsets" / f".{torn}").write_text(f'v1\n{{"batchWatermarkMs":0}}\n{offsets}\n')
    (root / "offsets" / f"..{torn}.crc").write_bytes(b"crc\x00")

    with caplog.at_level(logging.WARNING, logger="smartmeter_assets.stream.checkpoint"):
        totals = run_stream(settings, available_now=True)

    assert any("never renamed" in record.getMessage() for record in caplog.records)
    assert not [p.name for p in (root / "offsets").iterdir() if ".tmp" in p.name]
    assert totals["input_rows"] == published.messages
    assert_lake_matches(Lake.from_settings(settings), settings, published)


def test_a_recreated_topic_is_read_from_its_beginning_under_a_new_checkpoint(
    spark: SparkSession, kafka_bootstrap: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = own_topic(tmp_path, kafka_bootstrap, "again", spark_max_records_per_batch=2000)
    ensure_topic(kafka_bootstrap, settings.kafka_topic)
    published = publish(kafka_bootstrap, settings.kafka_topic, 0, 48 * METERS, METERS, poison_every=700)
    run_stream(settings, available_now=True)
    delete_topic(kafka_bootstrap, settings.kafka_topic)
    ensure_topic(kafka_bootstrap, settings.kafka_topic)  # same name, a new topic id, offsets from 0
    # the last day again (a re-published day) and a new day: fewer records than the old topic had
    again = publish(kafka_bootstrap, settings.kafka_topic, 24 * METERS, 48 * METERS, METERS)

    with caplog.at_level(logging.WARNING, logger="smartmeter_assets.stream.checkpoint"):
        totals = run_stream(settings, available_now=True)

    assert any("was recreated" in record.getMessage() for record in caplog.records)
    assert totals["input_rows"] == again.messages
    assert totals["duplicate_rows"] == 24 * METERS and totals["raw_rows_written"] == 24 * METERS
    published.readings |= again.readings
    assert_lake_matches(Lake.from_settings(settings), settings, published)
    assert committed_offsets(settings) == end_offsets(kafka_bootstrap, settings.kafka_topic)


def test_the_job_writes_the_lake_on_s3_with_a_local_checkpoint(
    spark: SparkSession, kafka_bootstrap: str, s3_lake_url: str, tmp_path: Path
) -> None:
    settings = own_topic(
        tmp_path,
        kafka_bootstrap,
        "s3",
        lake_url=s3_lake_url,
        stream_checkpoint_url=str(tmp_path / "checkpoint"),
        spark_max_records_per_batch=1000,
    )
    ensure_topic(kafka_bootstrap, settings.kafka_topic)
    published = publish(kafka_bootstrap, settings.kafka_topic, 0, 24 * METERS, METERS, poison_every=400)
    totals = run_stream(settings, available_now=True)
    lake = Lake.from_settings(settings)
    assert lake.is_s3 and totals["raw_rows_written"] == len(published.readings)
    assert_lake_matches(lake, settings, published)
    assert committed_offsets(settings)  # read from the local checkpoint folder
    assert (tmp_path / "checkpoint" / "commits").is_dir()
