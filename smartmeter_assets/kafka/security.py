"""How every Kafka client of the project authenticates and encrypts: one object, two spellings.

A utility's cluster requires SASL (SCRAM or PLAIN) over TLS. Three clients speak to it, each in its
own spelling: the topic admin and the lag reader speak kafka-python, whose options are keyword
arguments (:meth:`KafkaSecurity.client_options`); the publisher speaks librdkafka, whose options are
dotted strings (:meth:`KafkaSecurity.librdkafka_options`); Spark's ``kafka`` source speaks the Java
client, whose options are ``kafka.``-prefixed strings (:meth:`KafkaSecurity.spark_options`). All
come from the one :class:`~smartmeter_assets.settings.Settings` object, so the sides cannot disagree.

Why Spark gets the certificates inline (``ssl.truststore.certificates``, ``ssl.keystore.key``)
rather than as file paths: the options travel with the query to the executors, so a standalone
cluster's workers need no copy of the files. The password is in the JAAS line only; Spark redacts
option values that contain "password" and Kafka logs its secret configs as ``[hidden]``.

Whether the cluster accepts these credentials is checked, before anything is sent, by
:mod:`smartmeter_assets.kafka.access`.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

if TYPE_CHECKING:
    from smartmeter_assets.settings import Settings

PLAINTEXT = "PLAINTEXT"
_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


@dataclass(frozen=True)
class KafkaSecurity:
    """Protocol, SASL identity and TLS material of one cluster. ``repr`` never shows the password."""

    protocol: str = PLAINTEXT
    mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: SecretStr | None = field(default=None, repr=False)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaSecurity:
        return cls(
            protocol=settings.kafka_security_protocol,
            mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_sasl_username,
            password=settings.kafka_password(),
            ca_file=settings.kafka_ssl_ca_file,
            cert_file=settings.kafka_ssl_cert_file,
            key_file=settings.kafka_ssl_key_file,
        )

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    def client_options(self) -> dict[str, object]:
        """kafka-python keyword arguments (KafkaProducer, KafkaConsumer, KafkaAdminClient)."""
        options: dict[str, object] = {"security_protocol": self.protocol}
        if self.uses_tls:
            options.update(ssl_check_hostname=True, ssl_cafile=_text(self.ca_file))
            if self.cert_file is not None:
                options.update(ssl_certfile=str(self.cert_file), ssl_keyfile=_text(self.key_file))
        if self.uses_sasl:
            options.update(
                sasl_mechanism=self.mechanism,
                sasl_plain_username=self.username,
                sasl_plain_password=self._password(),
            )
        return options

    def librdkafka_options(self) -> dict[str, str]:
        """The publisher's (confluent-kafka, librdkafka) configuration properties.

        Without a CA file librdkafka probes the system's CA paths, as kafka-python falls back to the
        system store; the broker's host name is verified either way.
        """
        options = {"security.protocol": self.protocol.lower()}
        if self.uses_tls:
            options["ssl.endpoint.identification.algorithm"] = "https"
            options["ssl.ca.location"] = _text(self.ca_file) or "probe"
            if self.cert_file is not None:
                options["ssl.certificate.location"] = str(self.cert_file)
                if self.key_file is not None:
                    options["ssl.key.location"] = str(self.key_file)
        if self.uses_sasl:
            options["sasl.mechanisms"] = self.mechanism
            options["sasl.username"] = self.username
            options["sasl.password"] = self._password()
        return options

    def spark_options(self) -> dict[str, str]:
        """Spark ``kafka`` source options (the Java client's names, ``kafka.``-prefixed)."""
        options = {"kafka.security.protocol": self.protocol}
        if self.uses_tls:
            if self.ca_file is not None:
                options["kafka.ssl.truststore.type"] = "PEM"
                options["kafka.ssl.truststore.certificates"] = self.ca_file.read_text()
            if self.cert_file is not None and self.key_file is not None:
                options["kafka.ssl.keystore.type"] = "PEM"
                options["kafka.ssl.keystore.certificate.chain"] = self.cert_file.read_text()
                options["kafka.ssl.keystore.key"] = self.key_file.read_text()
        if self.uses_sasl:
            options["kafka.sasl.mechanism"] = self.mechanism
            options["kafka.sasl.jaas.config"] = (
                f'{_LOGIN_MODULES[self.mechanism]} required username="{_jaas_quoted(self.username)}" '
                f'password="{_jaas_quoted(self._password())}";'
            )
        return options

    def sasl_mechanism(self, host: str) -> object:
        """kafka-python's own implementation of the configured SASL mechanism (the access check)."""
        from kafka.net.sasl import get_sasl_mechanism

        return get_sasl_mechanism(self.mechanism)(host=host, **self.client_options())

    def _password(self) -> str:
        return "" if self.password is None else self.password.get_secret_value()

    def tls_context(self) -> ssl.SSLContext:
        """A TLS context like the one kafka-python builds from the same options (the access check)."""
        context = ssl.create_default_context(cafile=_text(self.ca_file))
        if self.cert_file is not None:
            context.load_cert_chain(str(self.cert_file), _text(self.key_file))
        return context


#: What a client uses when nothing is configured: the embedded broker's plaintext listener.
UNSECURED = KafkaSecurity()


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _jaas_quoted(value: str) -> str:
    """A JAAS option value inside double quotes: backslash and quote escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"')
