"""Apache Kafka as the cluster's service: the embedded broker's process, on compose's host port.

The broker is the one :class:`~smartmeter_assets.kafka.broker.EmbeddedBroker` runs (the release
pinned in :mod:`smartmeter_assets.components`, KRaft, one node, log on disk), started by the
supervisor on the fixed port compose publishes (9094) instead of a free one, so every process
reaches it at the address ``.env`` gives them. Its log survives a ``kill -9``: a restarted broker
serves every record published before.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from smartmeter_assets.cluster.process import ServiceError
from smartmeter_assets.cluster.topology import KAFKA_PORT, Layout
from smartmeter_assets.kafka.broker import BrokerError, EmbeddedBroker, broker_answers

NAME = "kafka"
#: What Kafka's own AppInfoParser reads to log "Kafka version: ..." (inside kafka-clients).
_VERSION_RESOURCE = "kafka/kafka-version.properties"


class KafkaService:
    name = NAME

    def __init__(self, layout: Layout) -> None:
        self.broker = EmbeddedBroker(home=layout.kafka_home, port=KAFKA_PORT)

    @property
    def pid(self) -> int | None:
        return self.broker.process.pid if self.broker.process is not None else None

    def start(self) -> None:
        self.broker.stop()  # after a kill -9: drop the dead process and its state file first
        self.broker.port = KAFKA_PORT
        try:
            self.broker.start()
        except BrokerError as error:
            raise ServiceError(f"{NAME}: {error}") from None

    def running(self) -> bool:
        return self.broker.process is not None and self.broker.process.poll() is None

    def healthy(self) -> bool:
        return self.running() and broker_answers(self.broker.bootstrap)

    def stop(self) -> None:
        self.broker.stop()


def running_broker_version(pid: int) -> str:
    """The release a running broker runs, read from the kafka-clients jar on its own classpath."""
    arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    classpath = arguments[arguments.index(b"-cp") + 1].decode()
    for entry in classpath.split(":"):
        folder = Path(entry.removesuffix("*"))
        for jar in sorted(folder.glob("*kafka-clients-*.jar")) if folder.is_dir() else []:
            with zipfile.ZipFile(jar) as archive:
                text = archive.read(_VERSION_RESOURCE).decode()
            found = re.search(r"^version=(\S+)", text, re.MULTILINE)
            if found:
                return found.group(1)
    raise ServiceError(f"no kafka-clients jar on the classpath of process {pid}")
