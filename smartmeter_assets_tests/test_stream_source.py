"""The Python Kafka source's driver and worker halves against a real tansu broker (no Spark).

tansu answers ListOffsets(LATEST) with the base offset of the last record batch + 1; the source
must still find the true end, read exact offset ranges, and share a row budget fairly.
"""

from __future__ import annotations

import json
import pickle
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.checkpoint import committed_offsets, partition_offsets
from smartmeter_assets.stream.kafka_source import (
    KafkaStreamReader,
    OffsetRange,
    TopicPosition,
    TopicProbe,
    read_range,
    split_budget,
)
from smartmeter_assets.stream.transforms import KAFKA_COLUMNS
from smartmeter_assets_tests.stream_readings import ensure_topic

pytestmark = pytest.mark.kafka


def publish_in_batches(bootstrap: str, topic: str, batches: int, per_batch: int) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, compression_type="lz4", linger_ms=50)
    for number in range(batches):
        for index in range(per_batch):
            producer.send(topic, key=b"k", value=json.dumps({"n": number, "i": index}).encode(), partition=0)
        producer.flush()  # one record batch per flush
    producer.close()


def test_the_true_end_is_found_although_list_offsets_says_less(kafka_bootstrap: str) -> None:
    topic = f"ends-{uuid.uuid4().hex[:8]}"
    ensure_topic(kafka_bootstrap, topic, partitions=2)
    publish_in_batches(kafka_bootstrap, topic, batches=3, per_batch=400)
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=None)
    listed = consumer.end_offsets([TopicPartition(topic, 0)])[TopicPartition(topic, 0)]
    consumer.close()
    probe = TopicProbe(kafka_bootstrap, topic)
    try:
        assert probe.ends() == {0: 1200, 1: 0}
        assert probe.beginnings() == {0: 0, 1: 0}
        assert probe.topic_id()  # tansu gives topics a UUID: a recreated topic is told apart
    finally:
        probe.close()
    assert listed <= 1200  # tansu's answer (801 here); real Kafka says 1200, and so do we


def test_a_range_is_read_exactly_with_spark_kafka_columns(kafka_bootstrap: str) -> None:
    topic = f"range-{uuid.uuid4().hex[:8]}"
    ensure_topic(kafka_bootstrap, topic, partitions=1)
    publish_in_batches(kafka_bootstrap, topic, batches=4, per_batch=250)
    part = pickle.loads(pickle.dumps(OffsetRange(kafka_bootstrap, topic, 0, 130, 871)))
    batches = list(read_range(part))
    assert all(tuple(b.schema.names) == KAFKA_COLUMNS for b in batches)
    offsets = [o for b in batches for o in b.column("offset").to_pylist()]
    assert offsets == list(range(130, 871))
    first = json.loads(batches[0].column("value")[0].as_py())
    assert first == {"n": 0, "i": 130} and batches[0].column("topic")[0].as_py() == topic
    assert list(read_range(OffsetRange(kafka_bootstrap, topic, 0, 5, 5))) == []


def test_a_range_beyond_a_restarted_topic_is_cut_short_not_hung(kafka_bootstrap: str) -> None:
    topic = f"short-{uuid.uuid4().hex[:8]}"
    ensure_topic(kafka_bootstrap, topic, partitions=1)
    publish_in_batches(kafka_bootstrap, topic, batches=1, per_batch=50)
    offsets = [o for b in read_range(OffsetRange(kafka_bootstrap, topic, 0, 10, 5000)) for o in b["offset"].to_pylist()]
    assert offsets == list(range(10, 50))


def test_the_reader_plans_from_the_checkpointed_offset_and_restarts_a_new_topic(kafka_bootstrap: str) -> None:
    topic = f"plan-{uuid.uuid4().hex[:8]}"
    ensure_topic(kafka_bootstrap, topic, partitions=2)
    publish_in_batches(kafka_bootstrap, topic, batches=2, per_batch=300)
    reader = KafkaStreamReader({"bootstrap": kafka_bootstrap, "topic": topic, "max_records_per_batch": "250"})
    try:
        start = reader.initialOffset()
        end = reader.latestOffset(start, reader.getDefaultReadLimit())
        assert TopicPosition.from_json(end).offsets == {0: 250, 1: 0}
        ranges = reader.partitions(start, end)
        assert [(r.partition, r.start, r.end) for r in ranges] == [(0, 0, 250)]
        assert pickle.loads(pickle.dumps(reader))._probe is None  # no client travels to the workers

        # the checkpoint says offset 900 of a topic whose id is not this one's: start over
        stale = {"topic": topic, "topic_id": str(uuid.uuid4()), "offsets": {"0": 900, "1": 0}}
        restarted = reader.latestOffset(stale, reader.getDefaultReadLimit())
        assert [(r.partition, r.start, r.end) for r in reader.partitions(stale, restarted)] == [(0, 0, 250)]

        reader.prepareForTriggerAvailableNow()
        publish_in_batches(kafka_bootstrap, topic, batches=1, per_batch=100)  # after the target
        everything = {"topic": topic, "topic_id": end["topic_id"], "offsets": {"0": 600, "1": 0}}
        assert reader.latestOffset(everything, reader.getDefaultReadLimit()) == everything  # done
    finally:
        reader.stop()


@pytest.mark.parametrize(
    ("start", "end", "budget", "expected"),
    [
        ({0: 0, 1: 0}, {0: 100, 1: 300}, None, {0: 100, 1: 300}),
        ({0: 0, 1: 0}, {0: 100, 1: 300}, 1000, {0: 100, 1: 300}),
        ({0: 0, 1: 0}, {0: 100, 1: 300}, 100, {0: 25, 1: 75}),
        ({0: 50, 1: 0, 2: 7}, {0: 60, 1: 0, 2: 8}, 3, {0: 53, 1: 0, 2: 7}),
        ({0: 0, 1: 0, 2: 0}, {0: 1, 1: 1, 2: 1}, 2, {0: 1, 1: 1, 2: 0}),
    ],
)
def test_split_budget_shares_rows_in_proportion(
    start: dict[int, int], end: dict[int, int], budget: int | None, expected: dict[int, int]
) -> None:
    result = split_budget(start, end, budget)
    assert result == expected
    if budget is not None:
        assert sum(result[p] - start[p] for p in end) == min(budget, sum(end[p] - start[p] for p in end))


def test_committed_offsets_are_read_from_the_checkpoint_files(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, stream_checkpoint_url=str(tmp_path / "cp"))
    assert committed_offsets(settings) == {}
    (tmp_path / "cp" / "offsets").mkdir(parents=True)
    (tmp_path / "cp" / "commits").mkdir()
    ours = {"topic": settings.kafka_topic, "topic_id": "x", "offsets": {"0": 12, "1": 7}}
    native = {settings.kafka_topic: {"0": 20, "1": 9}}
    for batch, offset in ((0, ours), (1, native)):
        lines = ["v1", json.dumps({"batchWatermarkMs": 0}), json.dumps(offset)]
        (tmp_path / "cp" / "offsets" / str(batch)).write_text("\n".join(lines))
    (tmp_path / "cp" / "commits" / "0").write_text("v1\n{}")
    assert committed_offsets(settings) == {0: 12, 1: 7}  # batch 1 is planned, not committed
    (tmp_path / "cp" / "commits" / "1").write_text("v1\n{}")
    assert committed_offsets(settings) == {0: 20, 1: 9}
    assert partition_offsets(json.dumps(native), settings.kafka_topic) == {0: 20, 1: 9}


def test_a_topic_that_does_not_exist_yet_reads_as_empty_then_from_its_start(kafka_bootstrap: str) -> None:
    topic = f"later-{uuid.uuid4().hex[:8]}"
    reader = KafkaStreamReader({"bootstrap": kafka_bootstrap, "topic": topic})
    try:
        start = reader.initialOffset()
        assert start["offsets"] == {}
        assert reader.latestOffset(start, reader.getDefaultReadLimit()) == start  # no batch
        ensure_topic(kafka_bootstrap, topic, partitions=2)
        publish_in_batches(kafka_bootstrap, topic, batches=1, per_batch=30)
        end = reader.latestOffset(start, reader.getDefaultReadLimit())
        assert [(r.partition, r.start, r.end) for r in reader.partitions(start, end)] == [(0, 0, 30)]
    finally:
        reader.stop()
