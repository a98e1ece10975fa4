"""One supervised service: a child process of the cluster supervisor, with a health probe.

Why a parent-death signal: every service is a child of ``smartmeter cluster``'s supervisor, and
must not outlive it even after a ``kill -9`` of the supervisor (a stray Kafka or MinIO would hold
the fixed ports and the next ``cluster up`` would fail). The supervisor restarts a service whose
process died (the faults ``cluster-check`` injects); a service it does not own (Postgres, run by
Debian's ``pg_ctlcluster``) implements the same interface over the system's process.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

import psutil

from smartmeter_assets.exit_status import die_with_parent

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 30.0


class ServiceError(RuntimeError):
    """A service did not start, or did not answer in time (the message has its log's tail)."""


class Service(Protocol):
    """What the supervisor needs of each service."""

    name: str

    def start(self) -> None:
        """Start and return once it answers (raise :class:`ServiceError` otherwise)."""

    def running(self) -> bool:
        """Its process is alive (a dead one is restarted by the supervisor)."""

    def healthy(self) -> bool:
        """It answers its protocol (what compose's healthcheck asks)."""

    def stop(self) -> None:
        """Stop in order; SIGKILL when it hangs. Safe twice."""

    @property
    def pid(self) -> int | None: ...


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def log_tail(path: Path, lines: int = 8) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_tree(pid: int, grace: float = STOP_TIMEOUT_SECONDS) -> int:
    """Stop ``pid`` and its descendants (snapshotted first: orphans re-parent); how many were killed."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    _, alive = psutil.wait_procs(tree, timeout=grace)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(alive, timeout=5)
    return len(alive)


class ManagedProcess:
    """A command run as a child of the supervisor, its output appended to ``<logs>/<name>.log``."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        logs: Path,
        probe: Callable[[], bool],
        ready_timeout: float = READY_TIMEOUT_SECONDS,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log_path = logs / f"{name}.log"
        self.probe = probe
        self.ready_timeout = ready_timeout
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        if self.running():
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(self.command)}\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        started = time.monotonic()
        while not self.probe():
            if self.process.poll() is not None:
                code = self.process.returncode
                self._close()
                raise ServiceError(f"{self.name} exited with code {code} before answering: {log_tail(self.log_path)}")
            if time.monotonic() - started > self.ready_timeout:
                self.stop()
                raise ServiceError(
                    f"{self.name} did not answer in {self.ready_timeout:.0f}s: {log_tail(self.log_path)}"
                )
            time.sleep(0.5)
        log.info("%s ready (pid %d) in %.1fs", self.name, self.process.pid, time.monotonic() - started)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        return self.running() and self.probe()

    def stop(self) -> None:
        """SIGTERM to the service and everything under it (the code server's gRPC child and the
        runs it launched, the stream's driver among them), SIGKILL to what lingers."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            stop_tree(process.pid)
            process.wait(timeout=10)
        self._close()

    def _close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
