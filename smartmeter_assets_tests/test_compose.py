"""The production stack, checked without a Docker engine.

docker-compose.yml is interpolated the way Compose does it (from .env.example plus the secrets a
user must add), then parsed by ``compose-spec`` (a strict implementation of the Compose
Specification: unknown keys, bad durations, bad restart policies and bad dependency conditions are
errors) and checked for what the stack promises: the code location gets exactly the settings the
code reads, every image is pinned, every long-running service has a healthcheck and dependants
wait for it, secrets come only from .env, ports bind to BIND_ADDRESS, state lives in named
volumes, and the Dockerfile installs from the same lock file as ``make up``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pyspark
import pytest
import yaml
from compose_spec import PyCompose
from dagster import DagsterRun
from dagster._core.instance.config import dagster_instance_config
from dagster._utils.tags import TagConcurrencyLimitsCounter

from smartmeter_assets import components
from smartmeter_assets.cli import build_parser
from smartmeter_assets.defs.stream.job import STREAM_JOB, STREAM_TAG
from smartmeter_assets.jars import artifact_name, jars_to_add, kafka_broker_dir, spark_jars_dir
from smartmeter_assets.settings import Settings, env_variable_names
from smartmeter_assets.stream.checkpoint import checkpoint_location

from .conftest import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DEPLOY = REPO_ROOT / "deploy"

CODE_LOCATION = "code-location"
INIT = "init"
#: What a user must put in .env before the stack starts (empty in .env.example on purpose).
SECRETS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DAGSTER_POSTGRES_PASSWORD", "KAFKA_UI_PASSWORD")
#: Secrets only a secured setup needs (a SASL password): from .env or a file, empty by default.
OPTIONAL_SECRETS = ("SMARTMETER_KAFKA_SASL_PASSWORD", "SMARTMETER_KAFKA_SASL_PASSWORD_FILE")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY")
HOST_MEMORY_GIB = 16
OS_HEADROOM_GIB = 2

# ---------------------------------------------------------------------------------------------
# Compose's variable interpolation (compose-spec "Interpolation"): $$, $VAR, ${VAR}, ${VAR:-d},
# ${VAR-d}, ${VAR:?err}, ${VAR?err}, ${VAR:+alt}, ${VAR+alt}.
# ---------------------------------------------------------------------------------------------
_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class MissingVariableError(ValueError):
    """A ``${VAR:?message}`` whose variable is unset or empty: Compose refuses to start."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        unset_or_empty = not value
        if op in (":-", "-"):
            return arg if (unset_or_empty if op == ":-" else value is None) else value
        if op in (":?", "?"):
            if unset_or_empty if op == ":?" else value is None:
                raise MissingVariableError(f"{name}: {arg}")
            return value
        if op in (":+", "+"):
            return "" if (unset_or_empty if op == ":+" else value is None) else arg
        return value or ""

    return _VARIABLE.sub(substitute, text)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    return node


def read_env_file(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            entries[name.strip()] = value.strip()
    return entries


@cache
def raw_compose() -> dict[str, Any]:
    """The file as written (YAML anchors and merge keys resolved, variables not)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def user_env() -> dict[str, str]:
    """What a user has after ``cp .env.example .env`` and filling in the secrets."""
    return {**read_env_file(ENV_EXAMPLE), **{name: f"test-{name.lower()}-value" for name in SECRETS}}


@cache
def compose() -> dict[str, Any]:
    return interpolate_tree(raw_compose(), user_env())


def parse_compose(document: dict[str, Any]) -> PyCompose:
    """Parse with compose-spec (JSON in: its dict entry point wants its own pydantic models)."""
    return PyCompose.from_json(json.dumps(document))


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def environment(service: str) -> dict[str, str]:
    env = services()[service].get("environment", {})
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def is_one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart", "no") == "no"


def memory_bytes(size: str) -> int:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([bkmg]?)b?", str(size).lower()).groups()
    return int(float(number) * 1024 ** " kmg".index(unit or " ")) if unit else int(number)


# ---------------------------------------------------------------------------------------------
# The compose file itself
# ---------------------------------------------------------------------------------------------
def test_compose_file_conforms_to_the_compose_specification() -> None:
    parsed = parse_compose(compose())  # raises ValueError on anything the spec forbids
    parsed.validate()  # networks, volumes, configs and secrets referenced are defined
    assert set(parsed.service_names()) == set(services())


def test_the_strict_parser_used_above_rejects_what_compose_rejects() -> None:
    """Guard the guard: the validator must fail on a typo'd key and on a bad dependency condition."""
    broken_key = {"services": {"a": {"image": "x:1", "healthchek": {"test": ["CMD", "true"]}}}}
    broken_condition = {
        "services": {"a": {"image": "x:1", "depends_on": {"b": {"condition": "service_ready"}}}, "b": {"image": "y:1"}}
    }
    for document in (broken_key, broken_condition):
        with pytest.raises(ValueError):
            parse_compose(document)


def test_the_stack_has_every_service_of_the_issue() -> None:
    expected = {
        "kafka": "apache/kafka",
        "kafka-ui": "kafbat/kafka-ui",
        "minio": "smartmeter-minio",
        "postgres": "postgres",
        "spark-master": "smartmeter-assets",
        "spark-worker": "smartmeter-assets",
        INIT: "smartmeter-assets",
        CODE_LOCATION: "smartmeter-assets",
        "dagster-webserver": "smartmeter-assets",
        "dagster-daemon": "smartmeter-assets",
    }
    assert {name: service["image"].split(":")[0] for name, service in services().items()} == expected


def test_published_ports_match_the_documented_ones_and_bind_to_bind_address() -> None:
    published: dict[str, set[str]] = {}
    for name, service in raw_compose()["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str) and port.startswith("${BIND_ADDRESS:-127.0.0.1}:"), (name, port)
            published.setdefault(name, set()).add(port.split(":-127.0.0.1}:", 1)[1].split(":")[0])
    assert published == {
        "kafka": {"9094"},
        "kafka-ui": {"8888"},
        "minio": {"9000", "9001"},
        "spark-master": {"8085"},
        "dagster-webserver": {"3000"},
    }
    for service in services().values():  # with the default, every one lands on loopback
        assert all(port.startswith("127.0.0.1:") for port in service.get("ports", []))


def test_every_image_is_pinned_to_a_version() -> None:
    project_version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, service in services().items():
        image = service["image"]
        if "@sha256:" in image:
            continue
        tag = image.rpartition(":")[2] if ":" in image.rsplit("/", 1)[-1] else ""
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"
        if name == "minio":  # built from the Go module version the local cluster builds
            assert image == components.MINIO_IMAGE and service["build"]["context"] == "deploy/minio", image
        elif "build" in service:
            assert image == f"smartmeter-assets:{project_version}", f"{name}: tag the project image with its version"
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("FROM "):
            base = line.split()[1]
            assert re.fullmatch(r"[\w./-]+:[\w.-]*\d[\w.-]*(@sha256:[0-9a-f]{64})?", base), base


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, service in services().items():
        if is_one_shot(service):
            continue
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_dependants_start_only_when_what_they_need_is_healthy_or_done() -> None:
    names = set(services())
    for name, service in services().items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on must name a condition for each service"
        for target, rule in depends.items():
            assert target in names, f"{name} depends on unknown service {target}"
            expected = "service_completed_successfully" if is_one_shot(services()[target]) else "service_healthy"
            assert rule["condition"] == expected, (name, target, rule)


def test_the_one_shot_init_runs_the_projects_own_init_infra_command() -> None:
    init = services()[INIT]
    assert is_one_shot(init)
    assert init["command"] == ["smartmeter", "init-infra"]
    assert build_parser().parse_args(init["command"][1:]).command == "init-infra"
    for writer in (CODE_LOCATION,):
        assert services()[writer]["depends_on"][INIT] == {"condition": "service_completed_successfully"}


def test_state_lives_in_named_volumes() -> None:
    declared = set(compose()["volumes"])
    expected_mounts = {
        "kafka": "/var/lib/kafka/data",
        "minio": "/data",
        "postgres": "/var/lib/postgresql/data",
        CODE_LOCATION: "/var/lib/smartmeter",
    }
    for name, target in expected_mounts.items():
        mounts = {v.split(":")[1]: v.split(":")[0] for v in services()[name]["volumes"]}
        assert mounts.get(target) in declared, f"{name}: {target} must be on a named volume"
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith((".", "/")) or source in declared, f"{name}: volume {source} undeclared"


def test_resource_limits_leave_room_on_a_16_gb_host() -> None:
    total = 0
    for name, service in services().items():
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert limits.get("memory") and limits.get("cpus"), f"{name} has no memory/cpu limit"
        total += memory_bytes(limits["memory"])
    assert total <= (HOST_MEMORY_GIB - OS_HEADROOM_GIB) * 1024**3, f"limits add up to {total / 1024**3:.1f} GiB"


# ---------------------------------------------------------------------------------------------
# Settings and secrets
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("service", [CODE_LOCATION, INIT])
def test_code_running_services_get_exactly_the_settings_variables(service: str) -> None:
    given = {name for name in environment(service) if name.startswith("SMARTMETER_")}
    expected = set(env_variable_names())
    assert given == expected, f"missing: {sorted(expected - given)}; unknown: {sorted(given - expected)}"


def test_the_code_location_env_yields_the_production_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in env_variable_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in environment(CODE_LOCATION).items():
        monkeypatch.setenv(name, value)

    settings = Settings()

    assert settings.spark_master == "spark://spark-master:7077"
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.lake_root == "s3://smart-meter-data"
    assert settings.kafka_topic == "smart-meter-topic" and settings.kafka_partitions == 6
    assert checkpoint_location(settings).startswith("s3a://smart-meter-data/")
    assert settings.window_minutes == Settings.model_fields["window_minutes"].default  # empty = default
    assert settings.kafka_security_protocol == "PLAINTEXT" and settings.kafka_password() is None
    assert settings.s3_allow_http  # the bundled MinIO is http://minio:9000 inside the compose network


def test_the_secured_kafka_option_yields_sasl_ssl_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What README "Production" tells a user to put in .env for a secured cluster works as written."""
    ca_file = tmp_path / "kafka-ca.pem"
    ca_file.write_text("-----BEGIN CERTIFICATE-----\n")  # only its existence is checked here
    secured = {
        **user_env(),
        "SMARTMETER_KAFKA_BOOTSTRAP": "kafka-1.utility.internal:9093",
        "SMARTMETER_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "SMARTMETER_KAFKA_SASL_USERNAME": "meter-pipeline",
        "SMARTMETER_KAFKA_SASL_PASSWORD": "from-dot-env",
        "SMARTMETER_KAFKA_SSL_CA_FILE": str(ca_file),
    }
    code_location = interpolate_tree(raw_compose(), secured)["services"][CODE_LOCATION]["environment"]
    for name in env_variable_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in code_location.items():
        monkeypatch.setenv(name, "" if value is None else str(value))

    settings = Settings()

    assert (settings.kafka_security_protocol, settings.kafka_sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert settings.kafka_password() is not None and settings.kafka_password().get_secret_value() == "from-dot-env"
    assert "from-dot-env" not in repr(settings) and "from-dot-env" not in str(settings.to_env())
    mounts = {v.split(":")[1] for v in services()[CODE_LOCATION]["volumes"]}
    assert "/etc/smartmeter/tls" in mounts and "/etc/smartmeter/tls" in {
        v.split(":")[1] for v in services()[INIT]["volumes"]
    }


def test_compose_refuses_to_start_until_every_secret_is_set() -> None:
    template = read_env_file(ENV_EXAMPLE)
    assert all(template[name] == "" for name in SECRETS), ".env.example must not carry a password"
    for secret in SECRETS:
        incomplete = {**user_env(), secret: ""}
        with pytest.raises(MissingVariableError, match=secret):
            interpolate_tree(raw_compose(), incomplete)


def test_secret_values_come_only_from_the_env_file() -> None:
    for name, service in raw_compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if key in OPTIONAL_SECRETS:
                assert value == f"${{{key}:-}}", f"{name}: {key} must come from .env, empty by default"
            elif SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]+\}", str(value)), f"{name}: {key}={value}"
    text = COMPOSE_FILE.read_text() + DOCKERFILE.read_text()
    assert not re.search(r"(?i)(password|secret)[\w]*\s*[:=]\s*['\"]?(?!\$\{)\w", text.replace("$$", ""))


def test_env_example_lists_every_variable_the_compose_file_uses() -> None:
    used = {m.group("name") or m.group("bare") for m in _VARIABLE.finditer(COMPOSE_FILE.read_text())} - {None}
    listed = set(read_env_file(ENV_EXAMPLE))
    assert used <= listed, f"add to .env.example: {sorted(used - listed)}"
    lines = ENV_EXAMPLE.read_text().splitlines()
    for index, line in enumerate(lines):  # each variable (or group of them) has a comment above
        if line and not line.startswith("#"):
            above = index - 1
            while above >= 0 and lines[above] and not lines[above].startswith("#"):
                above -= 1
            assert above >= 0 and lines[above].startswith("#"), f".env.example: {line} has no comment"


# ---------------------------------------------------------------------------------------------
# The image
# ---------------------------------------------------------------------------------------------
def dockerfile_instructions() -> list[str]:
    """Instructions with continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_installs_with_the_same_lock_file_as_make_up() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "-c constraints.txt" in makefile
    installs = [line for line in dockerfile_instructions() if "pip install" in line]
    assert installs, "the Dockerfile installs nothing"
    for line in installs:
        for command in re.findall(r"pip install[^&;]*", line):
            assert "-c constraints.txt" in command, command
    assert any(line.startswith("COPY") and "constraints.txt" in line for line in dockerfile_instructions())


def test_the_pinned_jars_match_the_installed_pyspark_and_the_image_installs_them() -> None:
    jars = [jar.name for jar in (Path(pyspark.__file__).parent / "jars").glob("*.jar")]
    scala = next(
        re.fullmatch(r"scala-library-(\d+\.\d+)\.\d+\.jar", j).group(1) for j in jars if j.startswith("scala-library-")
    )
    hadoop = next(
        re.fullmatch(r"hadoop-client-api-(.+)\.jar", j).group(1) for j in jars if j.startswith("hadoop-client-api-")
    )

    assert pyspark.__version__ == components.SPARK_RELEASE
    assert scala == components.SCALA_BINARY
    assert hadoop == components.HADOOP_RELEASE
    assert f"pyspark=={pyspark.__version__}" in (REPO_ROOT / "pyproject.toml").read_text()
    assert any(line.startswith("RUN smartmeter install-jars spark") for line in dockerfile_instructions())
    assert services()["kafka"]["image"] == components.KAFKA_IMAGE  # the embedded broker's release


def test_make_install_resolved_the_pinned_jars_from_maven_central() -> None:
    """``make test`` runs after ``make install``: the coordinates the image uses did resolve."""
    shipped = {artifact_name(jar.name) for jar in spark_jars_dir().glob("*.jar")}
    for package in components.SPARK_PACKAGES:
        assert package.split(":")[1] in shipped, f"{package} is not in pyspark's jars/"
    broker = {artifact_name(jar.name) for jar in kafka_broker_dir().glob("*.jar")}
    assert {f"kafka_{components.SCALA_BINARY}", "kafka-clients", "scala-library", "log4j-core"} <= broker


def test_install_adds_only_artifacts_spark_does_not_ship() -> None:
    shipped = ["zstd-jni-1.5.7-6.jar", "lz4-java-1.8.0.jar", "snappy-java-1.1.10.8.jar", "slf4j-api-2.0.17.jar"]
    resolved = [
        "org.apache.spark_spark-sql-kafka-0-10_2.13-4.2.0.jar",
        "org.apache.spark_spark-token-provider-kafka-0-10_2.13-4.2.0.jar",
        "org.apache.kafka_kafka-clients-3.9.2.jar",
        "org.apache.commons_commons-pool2-2.13.1.jar",
        "org.apache.hadoop_hadoop-aws-3.5.0.jar",
        "software.amazon.awssdk_bundle-2.35.4.jar",
        # Spark ships these already (another version would mean two on the classpath):
        "com.github.luben_zstd-jni-1.5.6-4.jar",
        "org.lz4_lz4-java-0.0.1.jar",
        "org.xerial.snappy_snappy-java-1.1.10.5.jar",
        "org.slf4j_slf4j-api-2.0.7.jar",
    ]

    added = jars_to_add(resolved, shipped)

    assert added == sorted(resolved[:6])
    assert artifact_name("org.apache.spark_spark-sql-kafka-0-10_2.13-4.2.0.jar") == "spark-sql-kafka-0-10_2.13"
    assert artifact_name("zstd-jni-1.5.7-4.jar") == "zstd-jni"
    assert artifact_name("guava-33.4.0-jre.jar") == "guava"
    assert artifact_name("org.scala-lang_scala-library-2.13.16.jar") == "scala-library"
    assert artifact_name("com.github.ben-manes.caffeine_caffeine-3.2.0.jar") == "caffeine"
    assert artifact_name("jackson-module-scala_2.13-2.18.2.jar") == "jackson-module-scala_2.13"


def test_spark_defaults_configure_s3a_from_the_aws_environment() -> None:
    conf = {}
    for line in (DEPLOY / "spark" / "spark-defaults.conf").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split(None, 1)
            conf[key] = value.strip()
    assert conf["spark.hadoop.fs.s3a.endpoint"].startswith("${env.AWS_ENDPOINT_URL")
    assert conf["spark.hadoop.fs.s3a.endpoint.region"].startswith("${env.AWS_REGION")
    assert not any(SECRET_NAME.search(key.upper()) for key in conf), "credentials come from the environment"
    assert "SPARK_CONF_DIR=/opt/smartmeter/spark-conf" in " ".join(dockerfile_instructions())


# ---------------------------------------------------------------------------------------------
# The Dagster instance
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def instance_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """deploy/dagster.yaml validated by Dagster with the env the compose file gives its services."""
    for name, value in environment(CODE_LOCATION).items():
        if name.startswith("DAGSTER_"):
            monkeypatch.setenv(name, value)
    config, _custom_class = dagster_instance_config(str(DEPLOY))
    return config


def test_dagster_instance_stores_everything_in_postgres_from_env(instance_config: dict[str, Any]) -> None:
    database = dict(instance_config["storage"]["postgres"]["postgres_db"])
    assert database.pop("scheme") == "postgresql+psycopg2"  # the driver dagster-postgres installs
    assert {field: value.get("env") for field, value in database.items()} == {
        "hostname": "DAGSTER_POSTGRES_HOST",
        "port": "DAGSTER_POSTGRES_PORT",
        "username": "DAGSTER_POSTGRES_USER",
        "password": "DAGSTER_POSTGRES_PASSWORD",
        "db_name": "DAGSTER_POSTGRES_DB",
    }
    for service in ("dagster-webserver", "dagster-daemon", CODE_LOCATION):
        assert {v["env"] for v in database.values()} <= set(environment(service)), service


def test_the_image_installs_the_postgres_storage_the_instance_uses(instance_config: dict[str, Any]) -> None:
    """The image installs pyproject's dependencies pinned by constraints.txt: dagster-postgres must be both."""
    assert "postgres" in instance_config["storage"]
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}
    pinned = {line.split("==")[0].lower() for line in (REPO_ROOT / "constraints.txt").read_text().splitlines()}
    assert "dagster-postgres" in declared, "add dagster-postgres to pyproject's dependencies"
    assert "dagster-postgres" in pinned, "regenerate constraints.txt with dagster-postgres installed"


def test_run_queue_never_runs_two_streams_on_one_checkpoint(instance_config: dict[str, Any]) -> None:
    assert instance_config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    limits = instance_config["concurrency"]["runs"]["tag_concurrency_limits"]
    running = DagsterRun(job_name=STREAM_JOB, tags={STREAM_TAG: "smart_meter_stream"})

    counter = TagConcurrencyLimitsCounter(limits, [running])  # the daemon's own dequeue logic

    assert counter.is_blocked(DagsterRun(job_name=STREAM_JOB, tags={STREAM_TAG: "smart_meter_stream"}))
    assert not counter.is_blocked(DagsterRun(job_name=STREAM_JOB, tags={STREAM_TAG: "another_checkpoint"}))
    assert not counter.is_blocked(DagsterRun(job_name="publish", tags={}))


def test_run_monitoring_is_on(instance_config: dict[str, Any]) -> None:
    assert instance_config["run_monitoring"]["enabled"] is True


def test_workspace_points_at_the_code_location_server() -> None:
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    command = services()[CODE_LOCATION]["command"]
    assert server["host"] == CODE_LOCATION
    assert str(server["port"]) == command[command.index("-p") + 1]
    assert "smartmeter_assets.definitions" in command
    for service in ("dagster-webserver", "dagster-daemon"):
        assert "/opt/dagster/workspace.yaml" in services()[service]["command"]
