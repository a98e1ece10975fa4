"""Topic admin by code, against the session's real Apache Kafka broker."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaAdminClient

from smartmeter_assets.kafka.broker import free_port
from smartmeter_assets.kafka.topic import (
    KafkaUnreachableError,
    TopicPartitionMismatchError,
    ensure_topic,
)


def unique_topic(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def partitions_of(bootstrap: str, topic: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        (description,) = admin.describe_topics([topic])
        return len(description["partitions"])
    finally:
        admin.close()


def test_the_topic_is_created_once_with_its_partitions(kafka_bootstrap: str) -> None:
    topic = unique_topic("topic-created")
    first = ensure_topic(kafka_bootstrap, topic, partitions=6)
    second = ensure_topic(kafka_bootstrap, topic, partitions=6)

    assert first.created and first.partitions == 6
    assert not second.created and second.partitions == 6
    assert partitions_of(kafka_bootstrap, topic) == 6


def test_an_existing_topic_with_another_partition_count_is_refused(kafka_bootstrap: str) -> None:
    topic = unique_topic("topic-mismatch")
    ensure_topic(kafka_bootstrap, topic, partitions=3)

    with pytest.raises(TopicPartitionMismatchError, match="exists with 3 partitions but 6 are configured"):
        ensure_topic(kafka_bootstrap, topic, partitions=6)
    assert partitions_of(kafka_bootstrap, topic) == 3  # left as it was


def test_a_broker_that_is_down_is_a_clear_error() -> None:
    closed = f"127.0.0.1:{free_port()}"
    with pytest.raises(KafkaUnreachableError, match=f"no Kafka broker reachable at '{closed}'"):
        ensure_topic(closed, "never-created", partitions=6)
