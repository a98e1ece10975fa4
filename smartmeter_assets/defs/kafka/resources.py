"""Kafka as a Dagster resource: where the broker is, which topic, how to produce to it, how to log in.

The SASL password is never a plain config value (the Dagster UI shows resource config): it is an
``EnvVar`` (the UI shows the variable's name) or the path of a password file, read when used.
"""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource, EnvVar
from pydantic import Field, SecretStr

from smartmeter_assets.kafka.broker import resolve_bootstrap
from smartmeter_assets.kafka.publish import ProducerTuning
from smartmeter_assets.kafka.security import KafkaSecurity
from smartmeter_assets.kafka.topic import TopicState, ensure_topic
from smartmeter_assets.settings import EMBEDDED, ENV_PREFIX, Settings, read_secret_file

PASSWORD_VARIABLE = f"{ENV_PREFIX}KAFKA_SASL_PASSWORD"
PASSWORD_FILE_VARIABLE = f"{ENV_PREFIX}KAFKA_SASL_PASSWORD_FILE"


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
    producer_processes: int = Field(default=1, ge=1, description="one keeps up (librdkafka sends on its own threads)")
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: str = Field(default="", description=f"Only ever EnvVar({PASSWORD_VARIABLE!r}).")
    sasl_password_file: str = ""
    ssl_ca_file: str = ""
    ssl_cert_file: str = ""
    ssl_key_file: str = ""

    @classmethod
    def from_settings(cls, settings: Settings, producer_processes: int = 1) -> KafkaResource:
        return cls(
            bootstrap=settings.kafka_bootstrap,
            topic=settings.kafka_topic,
            partitions=settings.kafka_partitions,
            replication_factor=settings.kafka_replication_factor,
            compression=settings.kafka_compression,
            home=str(settings.home.resolve()),  # a run worker may start in another folder
            publish_speedup=settings.publish_speedup,
            producer_processes=producer_processes,
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_username=settings.kafka_sasl_username,
            # the value stays in the environment; Dagster resolves the variable when a run uses it
            sasl_password=EnvVar(PASSWORD_VARIABLE) if settings.kafka_sasl_password is not None else "",
            sasl_password_file=_path(settings.kafka_sasl_password_file),
            ssl_ca_file=_path(settings.kafka_ssl_ca_file),
            ssl_cert_file=_path(settings.kafka_ssl_cert_file),
            ssl_key_file=_path(settings.kafka_ssl_key_file),
        )

    def security(self) -> KafkaSecurity:
        """TLS and SASL of the cluster; the password is read now (from the variable or the file)."""
        password = None
        if self.sasl_password:
            password = SecretStr(self.sasl_password)
        elif self.sasl_password_file:
            password = read_secret_file(Path(self.sasl_password_file), PASSWORD_FILE_VARIABLE)
        return KafkaSecurity(
            protocol=self.security_protocol,
            mechanism=self.sasl_mechanism,
            username=self.sasl_username,
            password=password,
            ca_file=Path(self.ssl_ca_file) if self.ssl_ca_file else None,
            cert_file=Path(self.ssl_cert_file) if self.ssl_cert_file else None,
            key_file=Path(self.ssl_key_file) if self.ssl_key_file else None,
        )

    def bootstrap_servers(self) -> str:
        return resolve_bootstrap(self.bootstrap, Path(self.home))

    def ensure_topic(self) -> TopicState:
        return ensure_topic(
            self.bootstrap_servers(), self.topic, self.partitions, self.replication_factor, self.security()
        )

    def tuning(self) -> ProducerTuning:
        return ProducerTuning(compression=self.compression)


def _path(path: Path | None) -> str:
    return "" if path is None else str(path.resolve())  # a run worker may start in another folder
