"""The local cluster's own services, for real: MinIO built from source, Debian's PostgreSQL.

``make test`` builds MinIO first (``make cluster-install``) and CI starts PostgreSQL (``.ci/run``).
The whole topology under faults is ``make cluster-check``; these tests pin the pieces it rests on:
the lake's Delta writes survive a ``kill -9`` of MinIO, and Dagster's instance stores its runs in
Postgres with deploy/dagster.yaml.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
import yaml
from dagster import DagsterInstance, asset, materialize
from deltalake import DeltaTable, write_deltalake

from smartmeter_assets.cluster import minio
from smartmeter_assets.cluster.postgres import PostgresService, superuser_sql
from smartmeter_assets.cluster.process import ManagedProcess
from smartmeter_assets.cluster.topology import HOST, POSTGRES_PORT, Layout
from smartmeter_assets.kafka.broker import free_port
from smartmeter_assets.lake.bucket import ensure_bucket
from smartmeter_assets.lake.storage import Lake

from .test_compose import DEPLOY

KEY, SECRET = "cluster-test-key", "cluster-test-secret-value"


@pytest.fixture
def minio_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ManagedProcess]:
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
    server = minio.service(Layout.of(tmp_path), env, port=port, console_port=free_port())
    for name, value in {
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://{HOST}:{port}",
        "AWS_CONFIG_FILE": "/nonexistent/smartmeter-tests/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/smartmeter-tests/aws-credentials",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    # boto3's default session keeps the first credentials it resolved (moto's, when the S3 tests
    # ran first): a fresh one for this server, the old one back afterwards.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_minio_is_the_pinned_build(minio_server: ManagedProcess) -> None:
    assert Path(minio_server.command[0]) == minio.binary_path()
    assert minio.binary_path().name.endswith(minio.MINIO_VERSION)


def test_the_lake_on_minio_survives_a_kill_9_of_the_server(minio_server: ManagedProcess) -> None:
    bucket = f"smart-meter-data-{uuid.uuid4().hex[:8]}"
    assert ensure_bucket(bucket) is True
    assert ensure_bucket(bucket) is False  # idempotent, as init-infra runs on every start
    lake = Lake(f"s3://{bucket}")
    uri = lake.url("raw")
    write_deltalake(uri, pa.table({"meter_id": ["MAC1", "MAC2"], "energy_kwh": [0.1, 0.2]}),
                    storage_options=lake.storage_options())  # fmt: skip
    assert minio_server.pid is not None
    os.kill(minio_server.pid, signal.SIGKILL)
    minio_server.process.wait(timeout=10)  # type: ignore[union-attr]
    assert not minio_server.running()

    minio_server.start()  # what the supervisor does when the process is gone

    write_deltalake(uri, pa.table({"meter_id": ["MAC3"], "energy_kwh": [0.3]}), mode="append",
                    storage_options=lake.storage_options())  # fmt: skip
    table = DeltaTable(uri, storage_options=lake.storage_options())
    assert sorted(table.to_pyarrow_table()["meter_id"].to_pylist()) == ["MAC1", "MAC2", "MAC3"]
    assert table.version() == 1


@pytest.fixture
def postgres_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[PostgresService]:
    """A role and database of the test's own on Debian's cluster (a user's ``dagster`` is untouched)."""
    suffix = uuid.uuid4().hex[:8]
    service = PostgresService(f"dagster_test_{suffix}", f"pw-{uuid.uuid4().hex}", f"dagster_test_{suffix}")
    service.start()
    for name, value in {
        "DAGSTER_POSTGRES_HOST": HOST,
        "DAGSTER_POSTGRES_PORT": str(POSTGRES_PORT),
        "DAGSTER_POSTGRES_USER": service.user,
        "DAGSTER_POSTGRES_PASSWORD": service.password,
        "DAGSTER_POSTGRES_DB": service.database,
    }.items():
        monkeypatch.setenv(name, value)
    try:
        yield service
    finally:
        superuser_sql(f'DROP DATABASE IF EXISTS "{service.database}" WITH (FORCE)')
        superuser_sql(f'DROP ROLE IF EXISTS "{service.user}"')


def test_dagster_keeps_its_runs_in_debians_postgres(postgres_database: PostgresService, tmp_path: Path) -> None:
    assert postgres_database.healthy()
    postgres_database.start()  # a second start (the supervisor's restart) changes nothing
    config = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    config["compute_logs"]["config"]["base_dir"] = str(tmp_path / "logs")
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))

    @asset
    def one() -> int:
        return 1

    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = materialize([one], instance=instance)
        assert result.success
    with DagsterInstance.from_config(str(tmp_path)) as reopened:  # a new process would see the same
        assert reopened.get_run_by_id(result.run_id) is not None
        assert reopened.get_runs_count() == 1


def test_the_supervisor_restarts_a_service_killed_with_kill_9(minio_server: ManagedProcess, tmp_path: Path) -> None:
    """What ``restart: unless-stopped`` does in compose: a dead MinIO is back, with its data."""
    from smartmeter_assets.cluster.supervisor import Supervisor, read_state

    layout = Layout.of(tmp_path / "supervised")
    watcher = Supervisor(layout, dict(os.environ), stream=False, services=[minio_server])
    thread = threading.Thread(target=watcher.watch, daemon=True)
    thread.start()
    bucket = f"smart-meter-data-{uuid.uuid4().hex[:8]}"
    ensure_bucket(bucket)
    killed = minio_server.pid
    assert killed is not None
    try:
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 60
        state = read_state(layout)
        while state is None and time.monotonic() < deadline:  # written once the restart is done
            time.sleep(0.5)
            state = read_state(layout)
        assert state is not None and state["services"][minio.NAME]["restarts"] == 1
        assert minio_server.pid != killed and minio_server.healthy()
        assert ensure_bucket(bucket) is False  # the bucket survived on disk
        assert state["services"][minio.NAME]["pid"] == minio_server.pid
    finally:
        watcher.stopping = True
        thread.join(timeout=10)
