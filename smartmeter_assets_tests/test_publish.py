"""Publishing a day: the messages on the wire, read back from a real Apache Kafka broker by assignment."""

from __future__ import annotations

import json
import math
import multiprocessing
import re
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import DeltaTable
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from smartmeter_assets.contracts import MESSAGE_FIELD_NAMES, PUBLISHED_DIR
from smartmeter_assets.enrich import ENRICHED_COLUMNS
from smartmeter_assets.kafka.broker import free_port
from smartmeter_assets.kafka.message import (
    MessageEncodingError,
    encode_values,
    ingestion_timestamp,
    partition_for_key,
)
from smartmeter_assets.kafka.publish import (
    PartitionReport,
    ProducerTuning,
    PublishError,
    PublishReport,
    paced_chunks,
    publish_readings,
    readings_table,
    share_partitions,
)
from smartmeter_assets.kafka.topic import KafkaUnreachableError, ensure_topic
from smartmeter_assets.lake.published import publish_records, published_days, write_publish_records
from smartmeter_assets.lake.storage import Lake

INGESTION_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def enriched_day(meters: int = 40, day: str = "2013-01-15") -> pd.DataFrame:
    """A day of enriched rows as enrich_readings makes them: time order, None and NaN for nulls."""
    rows = []
    start = pd.Timestamp(day)
    for slot in range(48):
        stamp = (start + timedelta(minutes=30 * slot)).strftime("%Y-%m-%d %H:%M:%S")
        for m in range(meters):
            unknown = m % 7 == 0
            no_weather = slot == 5
            rows.append(
                {
                    "meter_id": f"MAC{m:06d}",
                    "timestamp": stamp,
                    "energy_kwh": round(0.013 * (m + 1) + slot / 1000, 3),
                    "tariff_type": None if unknown else ("Std" if m % 2 else "ToU"),
                    "acorn_group": None if unknown else "ACORN-E",
                    "acorn_category": None if unknown else "Affluent",
                    "temperature": math.nan if no_weather else 4.25 + slot / 10,
                    "humidity": math.nan if no_weather else 0.81,
                    "wind_speed": math.nan if no_weather else 3.2,
                    "cloud_cover": 0.75,
                    "weather_summary": None if no_weather else "Partly Cloudy",
                    "precip_intensity": math.nan,
                    "pressure": math.nan if slot % 3 == 0 else 1002.5,
                }
            )
    return pd.DataFrame(rows, columns=list(ENRICHED_COLUMNS))


def expected_message(row: dict[str, object]) -> dict[str, object]:
    """What json.dumps would write for the row (NaN -> null), ingestion_time aside."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def consume_by_assignment(bootstrap: str, topic: str, partitions: int) -> list[tuple[int, int, bytes, bytes]]:
    """Every record of the topic as (partition, offset, key, value), read by assignment."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=3000)
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        return [(r.partition, r.offset, r.key, r.value) for r in consumer]
    finally:
        consumer.close()


def unique_topic(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


# ----------------------------------------------------------------------------------------------
# The message encoding, against json.dumps
# ----------------------------------------------------------------------------------------------
def test_bulk_values_parse_to_what_json_dumps_would_write_odd_strings_included() -> None:
    frame = enriched_day(meters=3).head(6).copy()
    frame.loc[0, "weather_summary"] = 'Say "hi" \\ back'
    frame.loc[1, "weather_summary"] = "line\nbreak\ttab \x01 ctrl"
    frame.loc[2, "weather_summary"] = "Brouillard ☁ léger"
    frame.loc[3, "energy_kwh"] = 1e-7
    frame.loc[4, "energy_kwh"] = 12345678.125
    frame.loc[5, "temperature"] = -0.0
    table = pa.Table.from_pandas(frame, preserve_index=False)

    values = encode_values(table, "2026-01-02T03:04:05.678Z").to_pylist()

    for row, value in zip(frame.to_dict("records"), values, strict=True):
        message = json.loads(value)
        assert list(message) == list(MESSAGE_FIELD_NAMES)  # exactly the 14 fields, in order
        assert message.pop("ingestion_time") == "2026-01-02T03:04:05.678Z"
        assert message == expected_message(row)
        assert b"NaN" not in value


def test_an_infinite_number_is_refused_not_written_as_invalid_json() -> None:
    frame = enriched_day(meters=1).head(2).copy()
    frame.loc[1, "temperature"] = math.inf
    with pytest.raises(MessageEncodingError, match="1 rows have an infinite temperature"):
        encode_values(pa.Table.from_pandas(frame, preserve_index=False), ingestion_timestamp())


def test_ingestion_time_is_utc_with_milliseconds() -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, 891_234, tzinfo=UTC)
    assert ingestion_timestamp(moment) == "2026-03-04T05:06:07.891Z"
    assert INGESTION_TIME.match(ingestion_timestamp())


def test_partitions_are_dealt_whole_to_the_least_loaded_producer() -> None:
    shares = share_partitions({0: 100, 1: 90, 2: 50, 3: 40, 4: 10, 5: 0}, 2)
    assert sorted(p for share in shares for p in share) == [0, 1, 2, 3, 4, 5]
    assert shares == [[0, 3, 4], [1, 2, 5]]  # loads 150 / 140
    assert share_partitions({0: 5}, 4) == [[0]]


def test_a_paced_replay_sends_each_stamp_at_its_event_time_divided_by_the_speedup() -> None:
    table = readings_table(enriched_day(meters=2), partitions=6, with_event_seconds=True)
    schedule = [(due, chunk.num_rows, chunk["timestamp"][0].as_py()) for due, chunk in paced_chunks(table, 60)]
    assert len(schedule) == 48 and all(rows == 2 for _, rows, _ in schedule)
    assert schedule[0] == (0.0, 2, "2013-01-15 00:00:00")
    assert schedule[1][0] == 30.0  # 30 minutes of event time at 60x: 30 s
    assert schedule[-1] == (47 * 30.0, 2, "2013-01-15 23:30:00")
    unpaced = list(paced_chunks(table, 0))
    assert [due for due, _ in unpaced] == [0.0] and unpaced[0][1].num_rows == 96


# ----------------------------------------------------------------------------------------------
# Against the real broker
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("processes", [1, 2], ids=["one-producer", "two-producer-processes"])
def test_a_published_day_reads_back_as_the_enriched_frame(kafka_bootstrap: str, processes: int) -> None:
    topic = unique_topic("publish-day")
    ensure_topic(kafka_bootstrap, topic, partitions=6)
    enriched = enriched_day()

    report = publish_readings(enriched, kafka_bootstrap, topic, partitions=6, processes=processes)
    records = consume_by_assignment(kafka_bootstrap, topic, 6)

    assert report.records == len(enriched) == len(records) == 40 * 48
    assert report.processes == processes
    by_key: dict[tuple[str, str], dict[str, object]] = {}
    offsets: dict[int, list[int]] = defaultdict(list)
    for partition, offset, key, value in records:
        message = json.loads(value)
        assert list(message) == list(MESSAGE_FIELD_NAMES)
        assert key == message["meter_id"].encode()
        assert partition == partition_for_key(key, 6)  # Kafka's default partition of the key
        assert INGESTION_TIME.match(message.pop("ingestion_time"))
        by_key[(message["meter_id"], message["timestamp"])] = message
        offsets[partition].append(offset)
    expected = {(r["meter_id"], r["timestamp"]): expected_message(r) for r in enriched.to_dict("records")}
    assert by_key == expected  # every key once, every field equal

    for part in report.partitions:  # the reported offsets are the ones the records sit at
        assert (part.first_offset, part.last_offset, part.records) == (
            (min(offsets[part.partition]), max(offsets[part.partition]), len(offsets[part.partition]))
            if offsets[part.partition]
            else (None, None, 0)
        )
    # one meter's readings stay in time order within its partition
    stamps: dict[bytes, list[str]] = defaultdict(list)
    for _, _, key, value in sorted(records, key=lambda r: (r[0], r[1])):
        stamps[key].append(json.loads(value)["timestamp"])
    assert all(s == sorted(s) and len(s) == 48 for s in stamps.values())


def test_a_paced_replay_delivers_every_reading(kafka_bootstrap: str) -> None:
    topic = unique_topic("paced")
    ensure_topic(kafka_bootstrap, topic, partitions=6)
    day = enriched_day(meters=3).head(9)  # three half-hour stamps; at 3600x, 0.5 s apart

    report = publish_readings(day, kafka_bootstrap, topic, partitions=6, speedup=3600)

    records = consume_by_assignment(kafka_bootstrap, topic, 6)
    assert report.records == len(records) == 9
    sent = {(json.loads(v)["meter_id"], json.loads(v)["timestamp"]) for _, _, _, v in records}
    assert sent == set(zip(day["meter_id"], day["timestamp"], strict=True))


def test_our_partition_is_the_one_kafka_pythons_default_partitioner_picks(kafka_bootstrap: str) -> None:
    topic = unique_topic("partitioner")
    ensure_topic(kafka_bootstrap, topic, partitions=6)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        keys = [f"MAC{m:06d}".encode() for m in range(0, 5600, 97)]
        landed = {key: producer.send(topic, key=key, value=b"{}").get(timeout=30).partition for key in keys}
    finally:
        producer.close()
    assert landed == {key: partition_for_key(key, 6) for key in keys}
    assert len(set(landed.values())) == 6


def test_a_broker_that_is_down_is_a_clear_error_before_anything_is_sent() -> None:
    closed = f"127.0.0.1:{free_port()}"
    with pytest.raises(KafkaUnreachableError, match=f"no Kafka broker reachable at '{closed}'"):
        publish_readings(enriched_day(meters=2), closed, "never", partitions=6)


def test_undelivered_records_fail_the_publish_with_their_count(kafka_bootstrap: str) -> None:
    # The topic does not exist and the producer may not create it: no record can be delivered.
    tuning = ProducerTuning(delivery_timeout_ms=2000, request_timeout_ms=1000)
    with pytest.raises(PublishError, match=r"96 of 96 records were not delivered to topic 'missing-") as caught:
        publish_readings(enriched_day(meters=2), kafka_bootstrap, unique_topic("missing"), 6, tuning=tuning)
    assert caught.value.undelivered == 96


# ----------------------------------------------------------------------------------------------
# The per-day publish records
# ----------------------------------------------------------------------------------------------
def test_the_latest_publish_of_each_day_is_what_published_days_returns(tmp_path: Path, kafka_bootstrap: str) -> None:
    lake = Lake(str(tmp_path / "lake"))
    assert published_days(lake).empty

    topic = unique_topic("records")
    ensure_topic(kafka_bootstrap, topic, partitions=6)
    day = date(2013, 1, 15)
    first = publish_readings(enriched_day(), kafka_bootstrap, topic, 6)
    again = publish_readings(enriched_day(), kafka_bootstrap, topic, 6)  # a backfill of the same day
    other = publish_readings(enriched_day(meters=3, day="2013-01-16"), kafka_bootstrap, topic, 6)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    write_publish_records(lake, publish_records(first, day, "run-1", t0))
    write_publish_records(lake, publish_records(again, day, "run-2", t0 + timedelta(minutes=5)))
    write_publish_records(lake, publish_records(other, date(2013, 1, 16), "run-3", t0 + timedelta(minutes=1)))

    days = published_days(lake)

    assert set(zip(days["day"], days["run_id"], strict=True)) == {(day, "run-2"), (date(2013, 1, 16), "run-3")}
    latest = days[days["day"] == day].set_index("partition")
    assert list(latest.index) == [0, 1, 2, 3, 4, 5]  # every partition, empty ones included
    assert latest["records"].sum() == 40 * 48
    for part in again.partitions:  # the re-publish's offsets follow the first publish's
        row = latest.loc[part.partition]
        assert (row["first_offset"], row["last_offset"]) == (part.first_offset, part.last_offset)
        if part.records:
            before = next(p for p in first.partitions if p.partition == part.partition)
            assert row["first_offset"] == before.last_offset + 1


def test_publish_records_live_in_an_s3_lake_too(s3_lake_url: str) -> None:
    lake = Lake(s3_lake_url)
    report = PublishReport(
        topic="smart-meter-topic",
        records=3,
        bytes=900,
        seconds=0.1,
        processes=1,
        partitions=[PartitionReport(0, 2, 600, 10, 11), PartitionReport(1, 1, 300, 4, 4), PartitionReport(2)],
    )
    write_publish_records(lake, publish_records(report, date(2013, 1, 15), "run-s3"))

    days = published_days(lake)
    assert days["partition"].tolist() == [0, 1, 2]
    assert days["records"].tolist() == [2, 1, 0]
    assert days["first_offset"].tolist()[:2] == [10, 4] and days["last_offset"].tolist()[:2] == [11, 4]
    assert days["first_offset"].isna().tolist() == [False, False, True]  # null, not NaN or 0
    assert str(days["first_offset"].dtype) == "Int64"


def _publish_at(lake_url: str, day: date, start_at: float) -> None:  # runs in a spawned process
    time.sleep(max(0.0, start_at - time.time()))
    report = PublishReport("t", 1, 1, 0.1, 1, [PartitionReport(0, 1, 1, 0, 0)])
    write_publish_records(Lake(lake_url), publish_records(report, day, f"run-{day}"))


def test_concurrent_publish_records_on_s3_all_land_by_conditional_writes(s3_lake_url: str) -> None:
    """Several processes append to ``published/`` at the same instant: every commit survives.

    The lake commits by S3 conditional writes (no unsafe rename): a writer that loses the race for
    a log version gets a conflict and delta-rs retries it on the next one, never over the winner.
    (Against moto the old unsafe rename also happened to pass this race; what the test pins is
    that the lake's options commit conditionally and that racing appends all land with them.)
    """
    options = Lake(s3_lake_url).storage_options()
    assert options["AWS_CONDITIONAL_PUT"] == "etag" and "AWS_S3_ALLOW_UNSAFE_RENAME" not in options
    days = [date(2013, 1, 1) + timedelta(days=i) for i in range(9)]
    _publish_at(s3_lake_url, days[0], 0.0)  # the table exists, as after the first publish ever
    context = multiprocessing.get_context("spawn")  # clean processes: no inherited delta-rs runtime
    start_at = time.time() + 5  # after every interpreter has started and imported
    writers = [context.Process(target=_publish_at, args=(s3_lake_url, day, start_at)) for day in days[1:]]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [w.exitcode for w in writers] == [0] * len(writers)

    published = published_days(Lake(s3_lake_url))
    assert sorted(published["day"]) == days  # eight racing commits, none written over another
    history = DeltaTable(Lake(s3_lake_url).url(PUBLISHED_DIR), storage_options=options).history()
    assert len([entry for entry in history if entry.get("operation") == "WRITE"]) == len(days)
