"""Topic admin by code, against the session's real Apache Kafka broker."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from smartmeter_assets.kafka.broker import EmbeddedBroker, free_port
from smartmeter_assets.kafka.topic import (
    KafkaUnreachableError,
    TopicPartitionMismatchError,
    ensure_topic,
)
from smartmeter_assets_tests.topic_loss import delete_topic


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


def test_a_topic_created_on_a_new_broker_or_again_right_after_its_deletion_is_listed(tmp_path: Path) -> None:
    """The broker's metadata lags a creation, most on a broker just started (seen in CI when a lost
    topic was recreated right after its deletion): ensure_topic waits until the topic is listed
    instead of failing. A broker of its own: the session's has settled. The deletion is awaited
    (:mod:`topic_loss`: a topic whose deletion the broker has not seen yet is still listed)."""
    with EmbeddedBroker(home=tmp_path) as broker:
        for _ in range(5):
            topic = unique_topic("topic-recreated")
            assert ensure_topic(broker.bootstrap, topic, partitions=6).partitions == 6
            delete_topic(broker.bootstrap, topic)
            again = ensure_topic(broker.bootstrap, topic, partitions=6)
            assert again.partitions == 6 and partitions_of(broker.bootstrap, topic) == 6
