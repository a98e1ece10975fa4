"""The embedded Kafka broker: Apache Kafka (KRaft, one node) that the project starts and stops itself.

The broker is the release pinned in :mod:`smartmeter_assets.components`, run from the Maven jars
``smartmeter install-jars`` put in the environment (never fetched here). One process is broker and
controller at once; it listens on 127.0.0.1 only and keeps its log on disk under
``<home>/kafka/``, so a restarted ``make up`` finds the topic and everything published to it.

A test can add a second, secured listener (:class:`SecuredListener`: SASL_SSL with SCRAM users
made at format time by Kafka's own storage tool), so the security code meets a real broker that
demands TLS and a password, the way a utility's cluster does.

Why a state file: the process that starts the broker (``smartmeter up``/``run``, a pytest session)
is not the one that publishes (a Dagster run worker). The owner writes ``<home>/kafka-broker.json``
and every other process finds the address there. The broker is started with a parent-death signal,
so it cannot outlive its owner even after a ``kill -9``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from smartmeter_assets.components import KAFKA_RELEASE
from smartmeter_assets.exit_status import die_with_parent
from smartmeter_assets.jars import JarsMissingError, kafka_broker_classpath

log = logging.getLogger(__name__)

STATE_FILE = "kafka-broker.json"
BROKER_DIR = "kafka"
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0
#: The broker's heap: the log lives on disk and in the page cache, not in the heap.
HEAP = "512m"
#: The broker's JIT stops at C1. Its work is I/O and batch validation, which C1's code does as fast:
#: over a full-scale 14-day run (3.6 M readings) its request threads used 8.2 CPU-s with C2 and
#: 7.7-9.9 with C1 only, while C2's compiler threads alone used 9.7 CPU-s; the broker went from 21.9
#: to 11.6-15.0 CPU-s in all, CPU the stream and the publisher share on a small machine.
JIT_OPTIONS = ("-XX:TieredStopAtLevel=1",)
_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
"""


class BrokerError(RuntimeError):
    """The embedded broker could not be started, found or reached."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def java_binary() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    if candidate is not None and candidate.is_file():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise BrokerError("no `java` found (set JAVA_HOME or put a JDK 17+ on PATH): the Kafka broker is a JVM")
    return found


def broker_answers(bootstrap: str, timeout: float = 2.0) -> bool:
    """True when the broker answers a metadata request (not merely accepts TCP)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:  # kafka-python retries a closed port for ~30 s; a refused connect answers at once
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except (OSError, ValueError):
        return False
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


@dataclass(frozen=True)
class SecuredListener:
    """A SASL_SSL listener beside the plaintext one: the broker's PEM certificate chain and key
    (PKCS#8, unencrypted), and SCRAM-SHA-512 users created when the log is formatted."""

    certificate: Path
    private_key: Path
    scram_users: dict[str, str] = field(repr=False)  # name -> password
    port: int | None = None

    def keystore_pem(self) -> str:
        """Kafka's PEM keystore file: the private key, then the certificate chain."""
        return self.private_key.read_text() + self.certificate.read_text()

    def format_arguments(self) -> list[str]:
        return [
            argument
            for name, password in self.scram_users.items()
            for argument in ("--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={password}]")
        ]


SCRAM_MECHANISM = "SCRAM-SHA-512"
SECURED_LISTENER = "SASL_SSL"


def secured_properties(port: int, keystore: Path) -> dict[str, str]:
    """What a SASL_SSL listener adds to the node's configuration."""
    prefix = f"listener.name.{SECURED_LISTENER.lower()}"
    return {
        "sasl.enabled.mechanisms": SCRAM_MECHANISM,
        f"{prefix}.{SCRAM_MECHANISM.lower()}.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        f"{prefix}.ssl.keystore.type": "PEM",
        f"{prefix}.ssl.keystore.location": str(keystore),
    }


def server_properties(data_dir: Path, port: int, controller_port: int, secured: tuple[int, Path] | None = None) -> str:
    """The one node's configuration: broker + controller, 127.0.0.1 only, replication factor 1.

    ``secured``: (port, PEM keystore) of an extra SASL_SSL listener.
    """
    listeners = [f"PLAINTEXT://127.0.0.1:{port}"]
    if secured is not None:
        listeners.append(f"{SECURED_LISTENER}://127.0.0.1:{secured[0]}")
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": ",".join([*listeners, f"CONTROLLER://127.0.0.1:{controller_port}"]),
        "advertised.listeners": ",".join(listeners),
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
        + (f",{SECURED_LISTENER}:{SECURED_LISTENER}" if secured is not None else ""),
        "log.dirs": str(data_dir),
        # one node: every internal topic has one replica
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # topics are made by code (ensure_topic), with the partition count the settings give
        "auto.create.topics.enable": "false",
        **(secured_properties(*secured) if secured is not None else {}),
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


@dataclass
class BrokerState:
    bootstrap: str
    pid: int

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def read_state(home: Path) -> BrokerState | None:
    path = home / STATE_FILE
    try:
        data = json.loads(path.read_text())
        return BrokerState(bootstrap=str(data["bootstrap"]), pid=int(data["pid"]))
    except (OSError, ValueError, KeyError):
        return None


class EmbeddedBroker:
    """Start/stop an Apache Kafka node on 127.0.0.1 with its log under ``<home>/kafka``.

    ``home=None`` (benchmarks) uses a temporary folder removed on stop. ``secured`` adds a
    SASL_SSL listener (:attr:`secured_bootstrap`); the plaintext one stays for the broker itself.
    """

    def __init__(
        self, home: Path | None = None, port: int | None = None, secured: SecuredListener | None = None
    ) -> None:
        self.home = home
        self.port = port
        self.secured = secured
        self.secured_port = secured.port if secured is not None else None
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: object | None = None
        self._scratch: Path | None = None

    @property
    def bootstrap(self) -> str:
        if self.port is None:
            raise BrokerError("the embedded broker is not started")
        return f"127.0.0.1:{self.port}"

    @property
    def secured_bootstrap(self) -> str:
        if self.secured_port is None or self.process is None:
            raise BrokerError("the embedded broker has no secured listener running")
        return f"127.0.0.1:{self.secured_port}"

    @property
    def folder(self) -> Path:
        """``<home>/kafka``: configuration, broker log and the topic data (``data/``)."""
        if self.home is not None:
            return self.home / BROKER_DIR
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="smartmeter-kafka-"))
        return self._scratch

    def _format(self, classpath: str, config: Path) -> None:
        """Format the log folder once (KRaft needs a cluster id); later starts keep its data."""
        if (self.folder / "data" / "meta.properties").is_file():
            return
        command = [
            java_binary(), "-cp", classpath, "kafka.tools.StorageTool", "format",
            "--cluster-id", uuid.uuid4().hex[:22], "--config", str(config), "--ignore-formatted",
            *(self.secured.format_arguments() if self.secured is not None else []),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BrokerError(f"formatting the Kafka log in {self.folder} failed: {done.stderr.strip()[-500:]}")

    def start(self) -> str:
        """Start the broker, wait until it answers metadata, return its bootstrap address."""
        if self.process is not None:
            return self.bootstrap
        if self.home is not None:
            running = read_state(self.home)
            if running is not None and running.alive():
                raise BrokerError(
                    f"a Kafka broker for {self.home} is already running (pid {running.pid}, "
                    f"{running.bootstrap}): stop it first, or use that one"
                )
        try:
            classpath = kafka_broker_classpath()
        except JarsMissingError as missing:
            raise BrokerError(str(missing)) from None
        self.port = self.port or free_port()
        folder = self.folder
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "server.properties"
        secured = None
        if self.secured is not None:
            self.secured_port = self.secured_port or free_port()
            keystore = folder / "keystore.pem"
            keystore.write_text(self.secured.keystore_pem())
            keystore.chmod(0o600)
            secured = (self.secured_port, keystore)
        config.write_text(server_properties(folder / "data", self.port, free_port(), secured))
        (folder / "log4j2.properties").write_text(_LOG4J2)
        self._format(classpath, config)
        log_target = (folder / "broker.log").open("ab")
        self._log_file = log_target
        command = [
            java_binary(), f"-Xmx{HEAP}", f"-Xms{HEAP}", "-XX:+UseG1GC", *JIT_OPTIONS, "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={folder / 'log4j2.properties'}",
            "-cp", classpath, "kafka.Kafka", str(config),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdout=log_target,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        started = time.monotonic()
        while not broker_answers(self.bootstrap):
            if self.process.poll() is not None:
                code = self.process.returncode
                self._close()
                tail = (folder / "broker.log").read_text(errors="replace").strip().splitlines()[-5:]
                raise BrokerError(
                    f"Kafka exited with code {code} before answering on {self.bootstrap}: " + " | ".join(tail)
                )
            if time.monotonic() - started > READY_TIMEOUT_SECONDS:
                self.stop()
                raise BrokerError(f"Kafka did not answer on {self.bootstrap} in {READY_TIMEOUT_SECONDS:.0f}s")
            time.sleep(0.2)
        log.info(
            "embedded Apache Kafka %s ready on %s in %.1fs (log in %s)",
            KAFKA_RELEASE, self.bootstrap, time.monotonic() - started, folder / "data",
        )  # fmt: skip
        if self.home is not None:
            state = {"bootstrap": self.bootstrap, "pid": self.process.pid}
            (self.home / STATE_FILE).write_text(json.dumps(state))
        return self.bootstrap

    def stop(self) -> None:
        """Stop the broker in order (SIGTERM: a controlled shutdown), SIGKILL if it hangs. Safe twice."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self.home is not None and process is not None:
            state = read_state(self.home)
            if state is not None and state.pid == process.pid:
                (self.home / STATE_FILE).unlink(missing_ok=True)
        self._close()
        if self._scratch is not None and process is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def kill(self) -> None:
        """``kill -9`` the broker (fault injection in tests); the log on disk survives."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None
        if self.home is not None:
            (self.home / STATE_FILE).unlink(missing_ok=True)
        self._close()

    def _close(self) -> None:
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def resolve_bootstrap(kafka_bootstrap: str, home: Path) -> str:
    """The bootstrap address to use: the configured cluster, or the running embedded broker.

    A run worker never starts a broker of its own: a broker that dies with the run would take the
    topic away from the stream. The owner (``smartmeter up``/``run``, the test session) starts it.
    """
    from smartmeter_assets.settings import EMBEDDED

    if kafka_bootstrap != EMBEDDED:
        return kafka_bootstrap
    state = read_state(home)
    if state is None or not state.alive():
        raise BrokerError(
            f"no embedded Kafka broker is running for {home}: start the pipeline with `make up` "
            "(or `smartmeter up` / `smartmeter run`), or set SMARTMETER_KAFKA_BOOTSTRAP to a cluster"
        )
    return state.bootstrap
