"""Topic admin by code: the topic is created idempotently before the first publish, never by hand.

A plain function (no Dagster) so the production compose init (``smartmeter create-topic``) and the
publish asset share it. On a secured cluster (``security``) the TLS and SASL login are checked
first (:func:`~smartmeter_assets.kafka.access.check_access`), so a wrong password says so at once.
A topic that exists with another partition count is refused rather than silently used: the
key -> partition mapping, and with it per-meter ordering and the published offsets of earlier
days, depend on that count.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from smartmeter_assets.kafka.access import check_access
from smartmeter_assets.kafka.security import UNSECURED, KafkaSecurity

ADMIN_TIMEOUT_MS = 15_000
#: How long a topic just created (or deleted and created again) may take to be listed.
TOPIC_SETTLE_SECONDS = 30.0
TOPIC_SETTLE_POLL_SECONDS = 0.2


class KafkaUnreachableError(ConnectionError):
    """No broker answers at the bootstrap address."""


class TopicPartitionMismatchError(RuntimeError):
    """The topic exists with a partition count other than the one configured."""

    def __init__(self, topic: str, existing: int, wanted: int) -> None:
        super().__init__(
            f"topic {topic!r} exists with {existing} partitions but {wanted} are configured "
            "(SMARTMETER_KAFKA_PARTITIONS): the key -> partition mapping would change; "
            "delete the topic or configure the existing count"
        )
        self.topic, self.existing, self.wanted = topic, existing, wanted


@dataclass(frozen=True)
class TopicState:
    topic: str
    partitions: int
    created: bool  # False: it existed already


def check_reachable(bootstrap: str, timeout: float = 5.0) -> None:
    """Fail at once with a clear error when no bootstrap server accepts a connection.

    kafka-python retries a refused bootstrap for its whole timeout and then raises a bare
    ``NoBrokersAvailable``; a TCP probe answers in milliseconds and names the address.
    """
    errors = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
            return
        except (OSError, ValueError) as error:
            errors.append(f"{server.strip()}: {error}")
    raise KafkaUnreachableError(f"no Kafka broker reachable at {bootstrap!r} ({'; '.join(errors)})")


def check_connection(bootstrap: str, security: KafkaSecurity = UNSECURED) -> None:
    """Reachable, and (on a secured cluster) our TLS and login accepted: else one clear error."""
    check_reachable(bootstrap)
    check_access(bootstrap, security)


def _admin(bootstrap: str, security: KafkaSecurity) -> KafkaAdminClient:
    check_connection(bootstrap, security)
    try:
        return KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="smartmeter-topic-admin",
            request_timeout_ms=ADMIN_TIMEOUT_MS,
            **security.client_options(),
        )
    except KafkaError as error:
        raise KafkaUnreachableError(f"Kafka at {bootstrap!r} does not answer: {error!r}") from error


def partition_count(admin: KafkaAdminClient, topic: str) -> int | None:
    """The topic's partition count, or None when it does not exist."""
    if topic not in set(admin.list_topics()):
        return None
    (description,) = admin.describe_topics([topic])
    return len(description["partitions"])


def ensure_topic(
    bootstrap: str, topic: str, partitions: int, replication_factor: int = 1, security: KafkaSecurity = UNSECURED
) -> TopicState:
    """Create ``topic`` with ``partitions`` unless it exists; refuse one with another count."""
    if partitions < 1 or replication_factor < 1:
        raise ValueError(f"partitions ({partitions}) and replication factor ({replication_factor}) must be >= 1")
    admin = _admin(bootstrap, security)
    try:
        created = False
        existing = partition_count(admin, topic)
        deadline = time.monotonic() + TOPIC_SETTLE_SECONDS
        while existing is None:
            try:
                admin.create_topics(
                    [NewTopic(topic, num_partitions=partitions, replication_factor=replication_factor)],
                    timeout_ms=ADMIN_TIMEOUT_MS,
                )
                created = True
            except TopicAlreadyExistsError:  # another process won the race, or ours is not listed yet
                pass
            existing = partition_count(admin, topic)
            if existing is None:
                # the metadata the broker answers with lags a creation (and a deletion) by a moment
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"topic {topic!r} is still not listed {TOPIC_SETTLE_SECONDS:.0f} s after it was created"
                    )
                time.sleep(TOPIC_SETTLE_POLL_SECONDS)
        if existing != partitions:
            raise TopicPartitionMismatchError(topic, existing, partitions)
        return TopicState(topic=topic, partitions=existing, created=created)
    finally:
        admin.close()


def topic_id(bootstrap: str, topic: str, security: KafkaSecurity = UNSECURED) -> str | None:
    """Kafka's UUID of ``topic`` (KIP-516), or None when it does not exist.

    The name alone cannot tell a deleted-and-recreated topic from the old one; the id can. The
    stream compares it with the id its checkpoint was made for (see :mod:`stream.topic_guard`).
    """
    admin = _admin(bootstrap, security)
    try:
        if topic not in set(admin.list_topics()):
            return None
        (description,) = admin.describe_topics([topic])
        found = description.get("topic_id")
        return None if found is None else str(found)
    finally:
        admin.close()
