"""How far the stream is behind the topic: the broker's end offsets minus the stream's committed offsets.

In ``stream/``, not ``kafka/``: it reads the stream's checkpoint, and the stream sits above Kafka.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kafka.errors import KafkaError

from smartmeter_assets.kafka.broker import BrokerError, resolve_bootstrap
from smartmeter_assets.kafka.offsets import end_offsets
from smartmeter_assets.kafka.security import KafkaSecurity
from smartmeter_assets.kafka.topic import check_connection
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.checkpoint import committed_offsets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamLag:
    end_offsets: dict[int, int]
    committed: dict[int, int]

    @property
    def per_partition(self) -> dict[int, int]:
        """Unread records per partition. A committed offset past the end (a recreated topic, until
        the stream sets its old checkpoint aside at its next start) counts as 0 here."""
        return {p: max(0, end - self.committed.get(p, 0)) for p, end in sorted(self.end_offsets.items())}

    @property
    def total(self) -> int:
        return sum(self.per_partition.values())


def measure_lag(settings: Settings) -> StreamLag | None:
    """The lag now, or None when the broker cannot be reached (the caller says so)."""
    try:
        bootstrap = resolve_bootstrap(settings.kafka_bootstrap, settings.home)
        security = KafkaSecurity.from_settings(settings)
        check_connection(bootstrap, security)  # a refused login: its reason, not a 30 s retry
        ends = end_offsets(bootstrap, settings.kafka_topic, security=security)
    except (BrokerError, KafkaError, OSError, ValueError) as error:  # ValueError: an unreadable password file
        log.warning("stream lag unknown: %s", error)
        return None
    return StreamLag(end_offsets=ends, committed=committed_offsets(settings))
