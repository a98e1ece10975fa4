"""Kafka as a Dagster resource: where the broker is, which topic, how to produce to it."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from smartmeter_assets.kafka.broker import resolve_bootstrap
from smartmeter_assets.kafka.publish import ProducerTuning
from smartmeter_assets.kafka.topic import TopicState, ensure_topic
from smartmeter_assets.settings import EMBEDDED, Settings


class KafkaResource(ConfigurableResource):
    """The topic and its cluster. ``bootstrap="embedded"`` finds the broker the project started
    (``smartmeter up``/``run``, the test session) through ``<home>/kafka-broker.json``; a run
    never starts a broker itself, and with a real address the project never starts one at all."""

    bootstrap: str = EMBEDDED
    topic: str = "smart-meter-topic"
    partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    compression: str = "lz4"
    home: str = ".smartmeter"
    publish_speedup: float = Field(default=0.0, ge=0.0, description="0: as fast as possible")
    producer_processes: int = Field(default=0, ge=0, description="0: one per core for big days")

    @classmethod
    def from_settings(cls, settings: Settings, producer_processes: int = 0) -> KafkaResource:
        return cls(
            bootstrap=settings.kafka_bootstrap,
            topic=settings.kafka_topic,
            partitions=settings.kafka_partitions,
            replication_factor=settings.kafka_replication_factor,
            compression=settings.kafka_compression,
            home=str(settings.home.resolve()),  # a run worker may start in another folder
            publish_speedup=settings.publish_speedup,
            producer_processes=producer_processes,
        )

    def bootstrap_servers(self) -> str:
        return resolve_bootstrap(self.bootstrap, Path(self.home))

    def ensure_topic(self) -> TopicState:
        return ensure_topic(self.bootstrap_servers(), self.topic, self.partitions, self.replication_factor)

    def tuning(self) -> ProducerTuning:
        return ProducerTuning(compression=self.compression)
