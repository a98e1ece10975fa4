"""A utility's cluster: SASL/SCRAM-SHA-512 over TLS, against a real Apache Kafka SASL_SSL listener.

The broker's certificate comes from a CA the test session made; its user was created by Kafka's
own storage tool with a random password. With the right settings the project's publisher, the
Dagster publish asset, the stream job (Spark's kafka source) and the lag reader all work; a wrong
password or a CA that did not sign the broker's certificate fails before anything is sent, with
one line that names the setting, and nothing reaches the topic. The password never shows: not in
a Settings repr, not in to_env, not in a Dagster run's event log, config or tags.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize
from dagster_shared.serdes import serialize_value
from pydantic import SecretStr, ValidationError
from pyspark.sql import SparkSession

from smartmeter_assets.contracts import RAW
from smartmeter_assets.defs.sources.assets import SOURCE_ASSETS
from smartmeter_assets.kafka.access import KafkaAccessError
from smartmeter_assets.kafka.offsets import end_offsets
from smartmeter_assets.kafka.publish import publish_readings
from smartmeter_assets.kafka.security import KafkaSecurity
from smartmeter_assets.kafka.topic import ensure_topic
from smartmeter_assets.lake.delta import read_table
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.sample_data.generator import SampleSpec, generate
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.job import run_stream
from smartmeter_assets.stream.lag import measure_lag
from smartmeter_assets.testbed.stream_kill import job_environment
from smartmeter_assets_tests.fixtures.broker import SecuredKafka
from smartmeter_assets_tests.fixtures.tls import ThrowawayCA
from smartmeter_assets_tests.test_kafka_assets import publish_day, resources
from smartmeter_assets_tests.test_publish import enriched_day

pytestmark = pytest.mark.kafka
PARTITIONS = 6


def secured_settings(kafka: SecuredKafka, home: Path, **changes: object) -> Settings:
    values: dict[str, object] = {
        "home": home,
        "kafka_bootstrap": kafka.bootstrap,
        "kafka_topic": f"secured-{uuid.uuid4().hex[:8]}",
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": kafka.username,
        "kafka_sasl_password": kafka.password,
        "kafka_ssl_ca_file": kafka.ca_file,
    }
    return Settings(**{**values, **changes})


def one_line_error(output: bytes) -> str:
    """The process's error output: exactly one log line and no traceback, or the test fails."""
    lines = [line for line in output.decode().splitlines() if line.strip()]
    assert "Traceback" not in output.decode(), output.decode()[-2000:]
    errors = [line for line in lines if " ERROR " in line or line.startswith("init-infra:")]
    assert len(errors) == 1, lines
    return errors[0]


# ---------------------------------------------------------------------------------------------
# Settings: what the password looks like outside
# ---------------------------------------------------------------------------------------------
def test_the_password_never_prints_and_to_env_leaves_it_out(secured_kafka: SecuredKafka, tmp_path: Path) -> None:
    settings = secured_settings(secured_kafka, tmp_path)
    security = KafkaSecurity.from_settings(settings)

    for shown in (repr(settings), str(settings), repr(security), str(settings.to_env())):
        assert secured_kafka.password not in shown
    assert "SMARTMETER_KAFKA_SASL_PASSWORD" not in settings.to_env()
    assert settings.to_env()["SMARTMETER_KAFKA_SSL_CA_FILE"] == str(secured_kafka.ca_file)
    assert security.client_options()["sasl_plain_password"] == secured_kafka.password  # the clients get it


def test_a_password_file_is_handed_on_by_its_path(secured_kafka: SecuredKafka, tmp_path: Path) -> None:
    secret = tmp_path / "kafka-password"
    secret.write_text(secured_kafka.password + "\n")  # as `echo` and secret mounts write it
    settings = secured_settings(secured_kafka, tmp_path, kafka_sasl_password=None, kafka_sasl_password_file=secret)

    env = settings.to_env()

    assert env["SMARTMETER_KAFKA_SASL_PASSWORD_FILE"] == str(secret)
    assert secured_kafka.password not in str(env)
    child = Settings(**{k.removeprefix("SMARTMETER_").lower(): v for k, v in env.items() if v})
    assert child.kafka_password() == SecretStr(secured_kafka.password)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kafka_sasl_username": ""}, "SASL_SSL needs SMARTMETER_KAFKA_SASL_USERNAME"),
        ({"kafka_sasl_password": None}, "needs exactly one of SMARTMETER_KAFKA_SASL_PASSWORD"),
        ({"kafka_bootstrap": "embedded"}, "the embedded broker is plaintext"),
        ({"kafka_ssl_cert_file": Path(__file__)}, "needs both SMARTMETER_KAFKA_SSL_CERT_FILE and"),
        ({"kafka_ssl_ca_file": Path("/nonexistent/ca.pem")}, "SMARTMETER_KAFKA_SSL_CA_FILE=/nonexistent/ca.pem is not"),
    ],
)
def test_an_incomplete_security_setup_is_refused_at_start(
    secured_kafka: SecuredKafka, tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        secured_settings(secured_kafka, tmp_path, **changes)


def test_the_spark_options_carry_scram_and_the_ca_inline(secured_kafka: SecuredKafka, tmp_path: Path) -> None:
    options = KafkaSecurity.from_settings(secured_settings(secured_kafka, tmp_path)).spark_options()

    assert options["kafka.security.protocol"] == "SASL_SSL"
    assert options["kafka.sasl.mechanism"] == "SCRAM-SHA-512"
    assert options["kafka.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{secured_kafka.username}" password="{secured_kafka.password}";'
    )
    assert options["kafka.ssl.truststore.type"] == "PEM"
    assert options["kafka.ssl.truststore.certificates"] == secured_kafka.ca_file.read_text()
    quoted = KafkaSecurity("SASL_SSL", username='a"b', password=SecretStr("p\\q")).spark_options()
    assert 'username="a\\"b" password="p\\\\q";' in quoted["kafka.sasl.jaas.config"]


# ---------------------------------------------------------------------------------------------
# The right credentials: publish, stream and lag
# ---------------------------------------------------------------------------------------------
@pytest.mark.spark
def test_publish_stream_and_lag_work_over_sasl_ssl(
    spark: SparkSession, secured_kafka: SecuredKafka, tmp_path: Path
) -> None:
    settings = secured_settings(secured_kafka, tmp_path, spark_max_records_per_batch=500)
    security = KafkaSecurity.from_settings(settings)
    ensure_topic(settings.kafka_bootstrap, settings.kafka_topic, PARTITIONS, security=security)
    day = enriched_day(meters=30)

    report = publish_readings(day, settings.kafka_bootstrap, settings.kafka_topic, PARTITIONS, security=security)

    ends = end_offsets(settings.kafka_bootstrap, settings.kafka_topic, security=security)
    assert report.records == len(day) == sum(ends.values())
    lag = measure_lag(settings)
    assert lag is not None and lag.total == len(day)  # nothing consumed yet

    totals = run_stream(settings, available_now=True)

    assert totals["input_rows"] == len(day)
    assert read_table(Lake.from_settings(settings), RAW).num_rows == len(day)
    caught_up = measure_lag(settings)
    assert caught_up is not None and caught_up.total == 0 and caught_up.end_offsets == ends


# ---------------------------------------------------------------------------------------------
# The wrong password, the wrong CA: one line, before anything is sent
# ---------------------------------------------------------------------------------------------
def test_a_wrong_password_fails_the_publish_before_anything_is_sent(
    secured_kafka: SecuredKafka, tmp_path: Path
) -> None:
    settings = secured_settings(secured_kafka, tmp_path)
    ensure_topic(
        settings.kafka_bootstrap, settings.kafka_topic, PARTITIONS, security=KafkaSecurity.from_settings(settings)
    )
    wrong = KafkaSecurity.from_settings(settings.model_copy(update={"kafka_sasl_password": SecretStr("not-it")}))

    with pytest.raises(KafkaAccessError) as refused:
        publish_readings(
            enriched_day(meters=5), settings.kafka_bootstrap, settings.kafka_topic, PARTITIONS, security=wrong
        )

    message = str(refused.value)
    assert f"refused the SCRAM-SHA-512 login of user '{secured_kafka.username}'" in message
    assert "invalid credentials" in message and "\n" not in message and "not-it" not in message
    ends = end_offsets(settings.kafka_bootstrap, settings.kafka_topic, security=KafkaSecurity.from_settings(settings))
    assert sum(ends.values()) == 0  # nothing half-published


def test_an_untrusted_ca_fails_the_publish_before_anything_is_sent(
    secured_kafka: SecuredKafka, untrusted_ca: ThrowawayCA, tmp_path: Path
) -> None:
    settings = secured_settings(secured_kafka, tmp_path)
    ensure_topic(
        settings.kafka_bootstrap, settings.kafka_topic, PARTITIONS, security=KafkaSecurity.from_settings(settings)
    )
    wrong = KafkaSecurity.from_settings(settings.model_copy(update={"kafka_ssl_ca_file": untrusted_ca.ca_file}))

    with pytest.raises(KafkaAccessError) as refused:
        publish_readings(
            enriched_day(meters=5), settings.kafka_bootstrap, settings.kafka_topic, PARTITIONS, security=wrong
        )

    message = str(refused.value)
    assert f"its certificate is not trusted by {untrusted_ca.ca_file}" in message
    assert "SMARTMETER_KAFKA_SSL_CA_FILE" in message and "\n" not in message
    ends = end_offsets(settings.kafka_bootstrap, settings.kafka_topic, security=KafkaSecurity.from_settings(settings))
    assert sum(ends.values()) == 0


def test_the_lag_reader_says_why_it_cannot_read_instead_of_hanging(
    secured_kafka: SecuredKafka, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = secured_settings(secured_kafka, tmp_path, kafka_sasl_password=SecretStr("not-it"))
    assert measure_lag(settings) is None
    assert "invalid credentials" in caplog.text and "not-it" not in caplog.text


def test_the_stream_job_and_init_infra_refuse_a_wrong_password_in_one_line(
    secured_kafka: SecuredKafka, tmp_path: Path
) -> None:
    settings = secured_settings(secured_kafka, tmp_path)
    env = {**job_environment(settings), "SMARTMETER_KAFKA_SASL_PASSWORD": "not-it"}
    commands = {
        "stream": [sys.executable, "-m", "smartmeter_assets.stream", "--available-now"],
        "init-infra": [sys.executable, "-m", "smartmeter_assets.cli", "init-infra"],
    }
    for name, command in commands.items():
        finished = subprocess.run(command, env=env, capture_output=True, timeout=120)
        assert finished.returncode == 1, name
        line = one_line_error(finished.stdout + finished.stderr)
        assert "refused the SCRAM-SHA-512 login" in line and "invalid credentials" in line, (name, line)
        assert "not-it" not in (finished.stdout + finished.stderr).decode()


def test_the_stream_job_refuses_an_untrusted_ca_in_one_line(
    secured_kafka: SecuredKafka, untrusted_ca: ThrowawayCA, tmp_path: Path
) -> None:
    settings = secured_settings(secured_kafka, tmp_path, kafka_ssl_ca_file=untrusted_ca.ca_file)
    env = {**job_environment(settings), "SMARTMETER_KAFKA_SASL_PASSWORD": secured_kafka.password}
    command = [sys.executable, "-m", "smartmeter_assets.stream", "--available-now"]

    finished = subprocess.run(command, env=env, capture_output=True, timeout=120)

    assert finished.returncode == 1
    assert "is not trusted by" in one_line_error(finished.stdout + finished.stderr)


# ---------------------------------------------------------------------------------------------
# Dagster: a publish run against the secured broker keeps the password out of everything it stores
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A generated sample with its sources materialized: what the publish asset reads."""
    root = tmp_path_factory.mktemp("secured-assets")
    generate(root / "data", SampleSpec(households=8, days=3))
    settings = Settings(home=root, data_dir=root / "data", lake_url=str(root / "lake"))
    with DagsterInstance.ephemeral() as instance:
        assert materialize(SOURCE_ASSETS, resources=resources(settings), instance=instance).success
    return settings


def test_a_dagster_publish_run_stores_no_secret(
    secured_kafka: SecuredKafka, staged: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTMETER_KAFKA_SASL_PASSWORD", secured_kafka.password)  # as compose hands it over
    settings = staged.model_copy(
        update={
            "kafka_bootstrap": secured_kafka.bootstrap,
            "kafka_topic": f"secured-{uuid.uuid4().hex[:8]}",
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_username": secured_kafka.username,
            "kafka_sasl_password": SecretStr(secured_kafka.password),
            "kafka_ssl_ca_file": secured_kafka.ca_file,
        }
    )
    with DagsterInstance.ephemeral() as instance:
        result = publish_day(settings, instance)
        assert result.success
        stored = [
            serialize_value(instance.all_logs(result.run_id)),
            serialize_value(instance.get_run_by_id(result.run_id)),
            str(resources(settings)["kafka"]),
        ]
    records = sum(
        end_offsets(
            secured_kafka.bootstrap, settings.kafka_topic, security=KafkaSecurity.from_settings(settings)
        ).values()
    )
    assert records > 0
    for text in stored:
        assert secured_kafka.password not in text
