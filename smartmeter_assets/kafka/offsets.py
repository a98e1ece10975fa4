"""The true end of each partition of a topic, on real Kafka and on tansu alike.

Why not ``end_offsets()`` alone: tansu answers ListOffsets(LATEST) with the base offset of the
last record batch + 1, not the offset after its last record, so a lag computed from it is short
by up to a whole batch. The high watermark that comes back with fetched records is right on both
brokers, so we fetch from inside the last batch and take the larger of the two figures.
"""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition

FETCH_TIMEOUT_MS = 2000


def true_end_offsets(bootstrap: str, topic: str, timeout_ms: int = FETCH_TIMEOUT_MS) -> dict[int, int]:
    """Offset after the last record, per partition (0 for an empty partition)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        request_timeout_ms=max(timeout_ms * 3, 5000),
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=1 << 20,
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        assignment = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not assignment:
            return {}
        consumer.assign(assignment)
        listed = consumer.end_offsets(assignment)
        ends: dict[int, int] = {}
        for tp in assignment:
            end = int(listed.get(tp) or 0)
            if end == 0:
                ends[tp.partition] = 0
                continue
            consumer.pause(*[other for other in assignment if other != tp])
            consumer.resume(tp)
            consumer.seek(tp, end - 1)
            newest = end
            batch = consumer.poll(timeout_ms=timeout_ms, max_records=1_000_000).get(tp, [])
            if batch:
                newest = max(newest, batch[-1].offset + 1)
            highwater = consumer.highwater(tp)
            ends[tp.partition] = max(newest, int(highwater or 0))
        return ends
    finally:
        consumer.close()
