"""The local cluster (``smartmeter cluster``) and docker-compose.yml cannot drift apart.

Each check reads the compose file as Compose interpolates it (the helpers of test_compose) and
compares it with what :mod:`smartmeter_assets.cluster` starts: ports, releases, environment
variables (names and production values, service names mapped to 127.0.0.1), bucket and topic,
the Dagster instance and the workspace.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from smartmeter_assets import components
from smartmeter_assets.cluster import dagster, spark, topology
from smartmeter_assets.cluster.topology import Layout, cluster_environment
from smartmeter_assets.dagster_home import (
    embedded_instance_config,
    prepare_dagster_home,
    production_dagster_yaml,
    production_instance_config,
)
from smartmeter_assets.defs.stream.job import STREAM_TAG
from smartmeter_assets.defs.stream.replay import REPLAY_TAG
from smartmeter_assets.settings import Settings

from .conftest import REPO_ROOT
from .test_compose import CODE_LOCATION, DEPLOY, INIT, environment, raw_compose, read_env_file, services

#: How a compose service name is reached from the host (host name:container port -> local address).
COMPOSE_TO_LOCAL = {
    "kafka:9092": f"127.0.0.1:{topology.KAFKA_PORT}",
    "spark-master:7077": f"127.0.0.1:{topology.SPARK_MASTER_PORT}",
    "http://minio:9000": f"http://127.0.0.1:{topology.MINIO_PORT}",
    "postgres": "127.0.0.1",
}


def localized(value: str) -> str:
    for compose_address, local in COMPOSE_TO_LOCAL.items():
        if value == compose_address or value.endswith("//" + compose_address) or value.endswith(compose_address):
            return value.replace(compose_address, local)
    return value


def argument(command: list[str], flag: str) -> str:
    return str(command[command.index(flag) + 1])


@pytest.fixture
def cluster_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("DAGSTER_POSTGRES_DB", "DAGSTER_POSTGRES_USER", "SPARK_WORKER_CORES", "SPARK_WORKER_MEMORY"):
        monkeypatch.delenv(name, raising=False)
    return cluster_environment(Layout.of(tmp_path))


def published_ports(name: str) -> set[int]:
    return {int(port.rsplit(":", 2)[-2]) for port in services()[name].get("ports", [])}


def test_services_listen_on_the_ports_compose_publishes() -> None:
    assert published_ports("kafka") == {topology.KAFKA_PORT}
    assert f"HOST://:{topology.KAFKA_PORT}" in environment("kafka")["KAFKA_LISTENERS"]
    assert published_ports("minio") == {topology.MINIO_PORT, topology.MINIO_CONSOLE_PORT}
    assert published_ports("spark-master") == {topology.SPARK_MASTER_UI_PORT}
    assert published_ports("dagster-webserver") == {topology.WEBSERVER_PORT}
    master = services()["spark-master"]["command"]
    assert int(argument(master, "--port")) == topology.SPARK_MASTER_PORT
    assert int(argument(services()["spark-worker"]["command"], "--webui-port")) == topology.SPARK_WORKER_UI_PORT
    assert int(argument(services()[CODE_LOCATION]["command"], "-p")) == topology.CODE_SERVER_PORT
    assert int(environment(CODE_LOCATION)["DAGSTER_POSTGRES_PORT"]) == topology.POSTGRES_PORT


def test_the_cluster_runs_the_releases_compose_runs() -> None:
    assert services()["kafka"]["image"] == components.KAFKA_IMAGE  # the broker's Maven release
    assert services()["minio"]["image"] == components.MINIO_IMAGE
    dockerfile = (DEPLOY / "minio" / "Dockerfile").read_text()
    assert f"ARG MINIO_VERSION={components.MINIO_VERSION}\n" in dockerfile
    assert f"{components.MINIO_MODULE}@${{MINIO_VERSION}}" in dockerfile
    assert services()["postgres"]["image"] == components.POSTGRES_IMAGE
    assert services()["spark-master"]["command"][:2] == ["spark-class", spark.MASTER_CLASS]
    assert services()["spark-worker"]["command"][:2] == ["spark-class", spark.WORKER_CLASS]


@pytest.mark.parametrize("service", [CODE_LOCATION, INIT])
def test_code_runs_with_compose_production_settings_on_local_addresses(
    service: str, cluster_env: dict[str, str]
) -> None:
    compose_env = environment(service)
    production = {k: v for k, v in compose_env.items() if k.startswith("SMARTMETER_") and v}
    local = {k: v for k, v in cluster_env.items() if k.startswith("SMARTMETER_") and k in production}
    assert set(local) == set(production)
    for name in ("SMARTMETER_HOME", "SMARTMETER_DATA_DIR"):  # container paths: the local ones are folders
        production.pop(name), local.pop(name)
    assert {k: localized(v) for k, v in production.items()} == local
    secrets = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DAGSTER_POSTGRES_PASSWORD")
    for name, value in compose_env.items():  # AWS_* and DAGSTER_POSTGRES_*: same names, mapped values
        if name.startswith(("AWS_", "DAGSTER_", "S3A_")) and name not in secrets:
            assert cluster_env[name] == localized(value), name
    assert {n for n in compose_env if n.startswith(("AWS_", "DAGSTER_"))} <= set(cluster_env)


def test_bucket_topic_and_checkpoints_are_compose_ones(cluster_env: dict[str, str], monkeypatch: Any) -> None:
    for name, value in cluster_env.items():
        if name.startswith("SMARTMETER_"):
            monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.lake_root == "s3://smart-meter-data" == environment(CODE_LOCATION)["SMARTMETER_LAKE_URL"]
    assert settings.kafka_topic == "smart-meter-topic" and settings.kafka_partitions == 6
    assert settings.spark_master == f"spark://127.0.0.1:{topology.SPARK_MASTER_PORT}"


def test_every_variable_the_cluster_sets_is_one_env_example_documents(cluster_env: dict[str, str]) -> None:
    documented = set(read_env_file(REPO_ROOT / ".env.example"))
    compose_names = {n for s in services().values() for n in (s.get("environment") or {})}
    ours = {
        n
        for n in cluster_env
        if n.startswith(("AWS_", "DAGSTER_POSTGRES_", "SMARTMETER_", "S3A_", "SPARK_WORKER_C", "SPARK_WORKER_M"))
    }
    assert ours <= documented | compose_names, sorted(ours - documented - compose_names)
    assert re.search(r"^SPARK_WORKER_CORES=", (REPO_ROOT / ".env.example").read_text(), re.MULTILINE)


def test_secrets_are_generated_once_and_private(tmp_path: Path) -> None:
    layout = Layout.of(tmp_path)
    first = topology.credentials(layout)
    again = topology.credentials(layout)
    assert first == again and all(len(value) >= 8 for value in first.values())
    assert (layout.root / topology.CREDENTIALS_FILE).stat().st_mode & 0o077 == 0
    assert set(first) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DAGSTER_POSTGRES_PASSWORD"}


def test_the_dagster_instance_is_deploys_with_local_logs(tmp_path: Path, monkeypatch: Any) -> None:
    layout = Layout.of(tmp_path)
    dagster.prepare(layout)
    deployed = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    local = yaml.safe_load((layout.dagster_home / "dagster.yaml").read_text())
    assert local["compute_logs"]["config"].pop("base_dir") == str(layout.dagster_logs)
    deployed["compute_logs"]["config"].pop("base_dir")
    assert local == deployed
    for name, value in environment(CODE_LOCATION).items():
        if name.startswith("DAGSTER_"):
            monkeypatch.setenv(name, value)
    config, _ = dagster_instance_config(str(layout.dagster_home))  # Dagster's own validation
    assert "postgres" in config["storage"]


def test_deploy_dagster_yaml_is_generated_from_the_shared_instance_files() -> None:
    assert (DEPLOY / "dagster.yaml").read_text() == production_dagster_yaml(), (
        "deploy/dagster.yaml differs from smartmeter_assets/instance/: "
        "python -m smartmeter_assets.dagster_home > deploy/dagster.yaml"
    )


def test_the_embedded_and_the_production_instance_share_the_base(tmp_path: Path) -> None:
    embedded, production = embedded_instance_config(), production_instance_config()
    assert embedded["run_coordinator"] == production["run_coordinator"]
    assert embedded["concurrency"]["pools"] == production["concurrency"]["pools"]
    limits = embedded["concurrency"]["runs"]["tag_concurrency_limits"]
    assert limits == production["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {limit["key"] for limit in limits} == {STREAM_TAG, REPLAY_TAG}  # the tags the jobs carry
    assert "storage" not in embedded and "postgres" in production["storage"]
    home = prepare_dagster_home(Settings(home=tmp_path))
    config, _ = dagster_instance_config(str(home))  # Dagster's own validation of the embedded home
    assert config["concurrency"]["runs"] == embedded["concurrency"]["runs"]


def test_the_workspace_is_deploys_on_loopback(tmp_path: Path) -> None:
    layout = Layout.of(tmp_path)
    dagster.prepare(layout)
    deployed = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    local = yaml.safe_load(layout.workspace.read_text())
    assert local["load_from"][0]["grpc_server"].pop("host") == "127.0.0.1"
    assert deployed["load_from"][0]["grpc_server"].pop("host") == CODE_LOCATION
    assert local == deployed
    assert raw_compose()["services"][CODE_LOCATION]["command"][-1] == dagster.DEFINITIONS_MODULE
