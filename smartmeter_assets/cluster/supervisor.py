"""``smartmeter cluster up | down | status``: the production topology as supervised local processes.

``up`` starts a supervisor in the background and returns once every service answers. The
supervisor owns the services (each dies with it), starts them in compose's dependency order,
runs compose's one-shot ``init`` (``smartmeter init-infra``: bucket and topic), turns the stream's
sensor on, then restarts any service whose process dies, as ``restart: unless-stopped`` does.
Its state (pids, health, restarts) is ``<SMARTMETER_HOME>/cluster/state.json``: ``status`` and
``cluster-check`` read it from other processes. ``down`` sends SIGTERM: services stop in reverse
order (Postgres stays: Debian's service manager owns it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from smartmeter_assets.cluster import dagster, kafka, minio, spark
from smartmeter_assets.cluster.postgres import PostgresService
from smartmeter_assets.cluster.process import Service, ServiceError, log_tail, port_open
from smartmeter_assets.cluster.topology import (
    CODE_SERVER_PORT,
    HOST,
    KAFKA_PORT,
    MINIO_CONSOLE_PORT,
    MINIO_PORT,
    SPARK_MASTER_PORT,
    SPARK_MASTER_UI_PORT,
    SPARK_WORKER_UI_PORT,
    WEBSERVER_PORT,
    Layout,
    cluster_environment,
    kafka_bootstrap,
    s3_endpoint,
    spark_master_url,
)

log = logging.getLogger(__name__)

UP_TIMEOUT_SECONDS = 600.0
DOWN_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 1.0
#: A service that keeps dying is retried at most this often (seconds between attempts).
RESTART_BACKOFF_SECONDS = 5.0
INIT = "init"
#: The fixed ports the supervisor's own services listen on (Postgres is Debian's, shared).
OWNED_PORTS = (
    MINIO_PORT, MINIO_CONSOLE_PORT, KAFKA_PORT, SPARK_MASTER_PORT, SPARK_MASTER_UI_PORT, SPARK_WORKER_UI_PORT,
    CODE_SERVER_PORT, WEBSERVER_PORT,
)  # fmt: skip


def build_services(layout: Layout, env: dict[str, str]) -> list[Service]:
    """compose's services in dependency order (each after what it depends on)."""
    return [
        PostgresService(env["DAGSTER_POSTGRES_USER"], env["DAGSTER_POSTGRES_PASSWORD"], env["DAGSTER_POSTGRES_DB"]),
        minio.service(layout, env),
        kafka.KafkaService(layout),
        spark.master(layout, env),
        spark.worker(layout, env),
        dagster.code_server(layout, env),
        dagster.webserver(layout, env),
        dagster.daemon(layout, env),
    ]


def write_state(layout: Layout, state: dict[str, Any]) -> None:
    """Atomically: readers in other processes never see half a file."""
    layout.root.mkdir(parents=True, exist_ok=True)
    scratch = layout.state_file.with_suffix(".tmp")
    scratch.write_text(json.dumps(state, indent=1))
    scratch.replace(layout.state_file)


def read_state(layout: Layout) -> dict[str, Any] | None:
    try:
        return dict(json.loads(layout.state_file.read_text()))
    except (OSError, ValueError):
        return None


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_init(env: dict[str, str], layout: Layout) -> None:
    """compose's ``init`` service: ``smartmeter init-infra`` (bucket + topic), by code, idempotent."""
    command = [str(Path(sys.executable).with_name("smartmeter")), "init-infra"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    (layout.logs / f"{INIT}.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise ServiceError(f"init-infra failed (exit {done.returncode}): {(done.stderr or done.stdout)[-600:]}")
    log.info("init-infra: %s", " / ".join(done.stdout.strip().splitlines()))


class Supervisor:
    """Start, watch and restart the services; the state file says what it sees."""

    def __init__(
        self, layout: Layout, env: dict[str, str], stream: bool, services: list[Service] | None = None
    ) -> None:
        self.layout = layout
        self.env = env
        self.stream = stream
        self.services = services if services is not None else build_services(layout, env)
        self.restarts = {service.name: 0 for service in self.services}
        self.last_attempt = {service.name: 0.0 for service in self.services}
        self.status = "starting"
        self.error = ""
        self.stopping = False

    def state(self) -> dict[str, Any]:
        return {
            "supervisor_pid": os.getpid(),
            "status": self.status,
            "error": self.error,
            "services": {
                s.name: {"pid": s.pid, "running": s.running(), "restarts": self.restarts[s.name]} for s in self.services
            },
            "kafka": kafka_bootstrap(),
            "s3_endpoint": s3_endpoint(),
            "spark_master": spark_master_url(),
            "dagster_home": str(self.layout.dagster_home),
            "logs": str(self.layout.logs),
        }

    def save(self) -> None:
        write_state(self.layout, self.state())

    def start_all(self) -> None:
        dagster.prepare(self.layout)
        for service in self.services:
            if self.stopping:
                return
            log.info("starting %s ...", service.name)
            service.start()
            self.save()
            if service.name == kafka.NAME:  # MinIO and Kafka answer: compose's init runs now
                run_init(self.env, self.layout)
        if self.stream:
            dagster.start_stream_sensor(self.layout, self.env)
            log.info("stream sensor %s is on", dagster.STREAM_SENSOR)

    def watch(self) -> None:
        """Restart what died, until SIGTERM."""
        while not self.stopping:
            changed = False
            for service in self.services:
                if self.stopping or service.running():
                    continue
                now = time.monotonic()
                if now - self.last_attempt[service.name] < RESTART_BACKOFF_SECONDS:
                    continue
                self.last_attempt[service.name] = now
                self.restarts[service.name] += 1
                log.warning("%s (pid %s) is down: restarting it", service.name, service.pid)
                try:
                    service.start()
                    log.info("%s is back (pid %s)", service.name, service.pid)
                except ServiceError as error:
                    log.error("restarting %s failed: %s", service.name, error)
                changed = True
            if changed:
                self.save()
            time.sleep(POLL_SECONDS)

    def stop_all(self) -> None:
        self.status = "stopping"
        self.save()
        for service in reversed(self.services):
            log.info("stopping %s ...", service.name)
            service.stop()
        self.layout.state_file.unlink(missing_ok=True)

    def run(self) -> int:
        def on_signal(signum: int, frame: FrameType | None) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        try:
            self.save()
            self.start_all()
            if not self.stopping:
                self.status = "ready"
                self.save()
                log.info("cluster ready: %s", json.dumps(self.state()))
                self.watch()
            return 0
        except ServiceError as error:
            self.error = str(error)
            self.status = "failed"
            log.error("cluster failed to start: %s", error)
            return 1
        finally:
            failed_state = self.state() if self.status == "failed" else None
            self.stop_all()
            if failed_state is not None:  # keep the reason for `up` to print
                write_state(self.layout, failed_state)


def up(home: Path, stream: bool = True, timeout: float = UP_TIMEOUT_SECONDS) -> dict[str, Any]:
    """Start the supervisor in the background; its state once every service answers."""
    layout = Layout.of(home)
    current = read_state(layout)
    if current is not None and pid_alive(current.get("supervisor_pid")) and current.get("status") == "ready":
        return current
    if current is not None and pid_alive(current.get("supervisor_pid")):
        raise ServiceError(f"a cluster supervisor is already {current.get('status')} (pid {current['supervisor_pid']})")
    taken = [port for port in OWNED_PORTS if port_open(HOST, port)]
    if taken:
        raise ServiceError(
            f"port(s) {', '.join(map(str, taken))} on {HOST} are in use: another cluster (`smartmeter cluster "
            "status`; a check's cluster lives under <home>/cluster-check) or another program holds them"
        )
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.state_file.unlink(missing_ok=True)
    env = cluster_environment(layout)
    command = [sys.executable, "-m", "smartmeter_assets.cluster.supervisor", "--home", str(home.resolve())]
    supervisor_log = layout.logs / "supervisor.log"
    with supervisor_log.open("ab") as sink:
        process = subprocess.Popen(
            [*command, *([] if stream else ["--no-stream"])],
            env=env, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(layout)
        if state is not None and state.get("supervisor_pid") == process.pid:
            if state["status"] == "ready":
                return state
            if state["status"] == "failed":
                process.wait(timeout=DOWN_TIMEOUT_SECONDS)
                raise ServiceError(state["error"])
        if process.poll() is not None:
            raise ServiceError(f"the supervisor exited with {process.returncode}: {log_tail(supervisor_log)}")
        time.sleep(1.0)
    down(home)
    raise ServiceError(f"the cluster was not ready in {timeout:.0f}s: {log_tail(supervisor_log)}")


def down(home: Path, timeout: float = DOWN_TIMEOUT_SECONDS) -> bool:
    """Stop the supervisor (and so every service it owns); False when none was running."""
    layout = Layout.of(home)
    state = read_state(layout)
    pid = state.get("supervisor_pid") if state else None
    if not pid_alive(pid):
        layout.state_file.unlink(missing_ok=True)
        return False
    os.kill(int(pid), signal.SIGTERM)  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    if pid_alive(pid):
        os.kill(int(pid), signal.SIGKILL)  # type: ignore[arg-type]  # its services die with it
    return True


def status(home: Path) -> dict[str, Any]:
    """The supervisor's state with each pid checked now (a stale file says ``down``)."""
    state = read_state(Layout.of(home))
    if state is None or not pid_alive(state.get("supervisor_pid")):
        return {"status": "down"}
    for entry in state["services"].values():
        entry["alive"] = pid_alive(entry.get("pid"))
    return state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smartmeter_assets.cluster.supervisor")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--no-stream", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    layout = Layout.of(args.home)
    try:
        watcher = Supervisor(layout, dict(os.environ), stream=not args.no_stream)
    except ServiceError as error:  # e.g. MinIO not built: `up` prints the reason
        write_state(layout, {"supervisor_pid": os.getpid(), "status": "failed", "error": str(error)})
        return 1
    return watcher.run()


if __name__ == "__main__":
    sys.exit(main())
