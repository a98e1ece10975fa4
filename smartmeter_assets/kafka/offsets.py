"""The end of each partition of a topic: the offset after its last record, from the broker."""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition

from smartmeter_assets.kafka.security import UNSECURED, KafkaSecurity

REQUEST_TIMEOUT_MS = 6000


def end_offsets(
    bootstrap: str, topic: str, timeout_ms: int = REQUEST_TIMEOUT_MS, security: KafkaSecurity = UNSECURED
) -> dict[int, int]:
    """Offset after the last record, per partition (0 for an empty one; {} when the topic is missing).

    ListOffsets(LATEST) on Apache Kafka is the high watermark: exact, no records fetched.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        request_timeout_ms=timeout_ms,
        **security.client_options(),
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        assignment = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not assignment:
            return {}
        return {tp.partition: int(offset or 0) for tp, offset in consumer.end_offsets(assignment).items()}
    finally:
        consumer.close()
