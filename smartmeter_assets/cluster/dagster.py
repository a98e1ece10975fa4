"""Dagster as three processes: the code location (gRPC), the webserver and the daemon.

The instance is compose's: the production instance ``deploy/dagster.yaml`` is generated from
(:func:`smartmeter_assets.dagster_home.production_instance_config`: storage in Postgres from
DAGSTER_POSTGRES_*, the queued run coordinator and its one-stream-per-checkpoint limit, run
monitoring), written into the cluster's ``DAGSTER_HOME`` with one change: compute logs go to a
folder of the home instead of the container's ``/opt/dagster/logs``. The workspace is
``deploy/workspace.yaml`` with the code-location host replaced by 127.0.0.1. Runs are launched by
the code server as subprocesses (DefaultRunLauncher), so the Spark driver runs there, in client
mode, as in compose.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from smartmeter_assets.cluster.process import ManagedProcess, ServiceError, http_ok, port_open
from smartmeter_assets.cluster.topology import CODE_SERVER_PORT, HOST, WEBSERVER_PORT, Layout, repo_root
from smartmeter_assets.dagster_home import production_instance_config

CODE_SERVER = "dagster-code-server"
WEBSERVER = "dagster-webserver"
DAEMON = "dagster-daemon"
DEFINITIONS_MODULE = "smartmeter_assets.definitions"
STREAM_SENSOR = "smart_meter_stream_sensor"


def instance_config(layout: Layout) -> dict[str, Any]:
    """The production instance (deploy/dagster.yaml's source) with the compute logs in the cluster's home."""
    config = production_instance_config()
    config["compute_logs"]["config"]["base_dir"] = str(layout.dagster_logs)
    return config


def workspace(layout: Layout) -> dict[str, Any]:
    """deploy/workspace.yaml with the code location on 127.0.0.1."""
    config: dict[str, Any] = yaml.safe_load((repo_root() / "deploy" / "workspace.yaml").read_text())
    for entry in config["load_from"]:
        entry["grpc_server"]["host"] = HOST
    return config


def prepare(layout: Layout) -> None:
    """Write the instance config and the workspace (every start: deploy/ is the one source)."""
    layout.dagster_home.mkdir(parents=True, exist_ok=True)
    layout.dagster_logs.mkdir(parents=True, exist_ok=True)
    (layout.dagster_home / "dagster.yaml").write_text(yaml.safe_dump(instance_config(layout), sort_keys=False))
    layout.workspace.write_text(yaml.safe_dump(workspace(layout), sort_keys=False))


def code_server_serving() -> bool:
    if not port_open(HOST, CODE_SERVER_PORT):
        return False
    from dagster._grpc.client import DagsterGrpcClient

    try:
        return DagsterGrpcClient(port=CODE_SERVER_PORT, host=HOST).health_check_query() == "SERVING"
    except Exception:  # any gRPC failure means "not serving yet"
        return False


def daemons_healthy() -> bool:
    from dagster import DagsterInstance
    from dagster._daemon.controller import all_daemons_healthy

    try:
        with DagsterInstance.get() as instance:
            return bool(all_daemons_healthy(instance, heartbeat_tolerance_seconds=120))
    except Exception:  # storage not reachable yet: not healthy
        return False


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def code_server(layout: Layout, env: dict[str, str]) -> ManagedProcess:
    command = [
        _bin("dagster"), "code-server", "start", "-h", HOST, "-p", str(CODE_SERVER_PORT), "-m", DEFINITIONS_MODULE,
    ]  # fmt: skip
    return ManagedProcess(CODE_SERVER, command, env, layout.logs, probe=code_server_serving, cwd=repo_root())


def webserver(layout: Layout, env: dict[str, str]) -> ManagedProcess:
    command = [_bin("dagster-webserver"), "-h", HOST, "-p", str(WEBSERVER_PORT), "-w", str(layout.workspace)]
    return ManagedProcess(
        WEBSERVER, command, env, layout.logs, probe=lambda: http_ok(f"http://{HOST}:{WEBSERVER_PORT}/server_info")
    )


def daemon(layout: Layout, env: dict[str, str]) -> ManagedProcess:
    command = [_bin("dagster-daemon"), "run", "-w", str(layout.workspace)]
    return ManagedProcess(DAEMON, command, env, layout.logs, probe=daemons_healthy)


def start_stream_sensor(layout: Layout, env: dict[str, str]) -> None:
    """Turn the stream's supervisor on (compose leaves it off until an operator does this)."""
    done = subprocess.run(
        [_bin("dagster"), "sensor", "start", STREAM_SENSOR, "-w", str(layout.workspace)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0 and "already running" not in (done.stdout + done.stderr):
        raise ServiceError(f"starting {STREAM_SENSOR} failed: {(done.stderr or done.stdout).strip()[-400:]}")
