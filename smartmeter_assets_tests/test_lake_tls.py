"""TLS to S3: an https endpoint signed by a private CA, and the refusal of plain http off loopback.

moto's S3 server runs here over https with a certificate from the test session's throwaway CA;
``AWS_CA_BUNDLE`` names that CA, as a user names their company's CA. pyarrow (staged Parquet),
delta-rs (the Delta tables) and boto3 (bucket creation) all go through it; a CA that did not sign
the server's certificate fails.

Spark's S3A (the stream's checkpoint on ``s3a://``) trusts only its JVM's truststore, so the stream
job runs in a process of its own here (a fresh driver JVM, started with the truststore built from
the bundle), configured by the production ``deploy/spark/spark-defaults.conf``.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from smartmeter_assets.contracts import RAW
from smartmeter_assets.kafka.broker import free_port
from smartmeter_assets.lake.bucket import ensure_bucket
from smartmeter_assets.lake.delta import read_table
from smartmeter_assets.lake.storage import InsecureEndpointError, Lake
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.checkpoint import checkpoint_location, committed_offsets
from smartmeter_assets.stream.session import JIT_OPTIONS, THROUGHPUT_COLLECTOR, java_options
from smartmeter_assets.stream.truststore import (
    java_truststore,
    jvm_default_truststore,
    jvm_home,
    jvm_trusted_certificates,
)
from smartmeter_assets.testbed.stream_kill import job_environment
from smartmeter_assets.testbed.stream_readings import ensure_topic, publish
from smartmeter_assets_tests.conftest import REPO_ROOT
from smartmeter_assets_tests.fixtures.tls import ThrowawayCA
from smartmeter_assets_tests.test_kafka_security import one_line_error

STREAM = [sys.executable, "-m", "smartmeter_assets.stream", "--available-now"]
#: The production image's Spark configuration: S3A's endpoint and region from the AWS variables.
PRODUCTION_SPARK_CONF = REPO_ROOT / "deploy" / "spark"


@pytest.fixture(scope="module")
def https_s3(test_ca: ThrowawayCA) -> Iterator[str]:
    """``https://127.0.0.1:<port>``: moto's S3 with a certificate signed by the test CA."""
    issued = test_ca.issue("moto-s3")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port),
         "-c", str(issued.certificate), "-k", str(issued.private_key)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30

        context = ssl.create_default_context(cafile=str(test_ca.ca_file))
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2, context=context):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto did not start over https") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def https_env(https_s3: str, test_ca: ThrowawayCA, monkeypatch: pytest.MonkeyPatch) -> str:
    """The AWS variables a user sets for a private-CA endpoint; SSL_CERT_FILE as a fresh process has it."""
    for name, value in {
        "AWS_ENDPOINT_URL": https_s3, "AWS_CA_BUNDLE": str(test_ca.ca_file), "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "moto-test-key", "AWS_SECRET_ACCESS_KEY": "moto-test-secret",
        "AWS_CONFIG_FILE": "/nonexistent/aws-config", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    for name in ("SSL_CERT_FILE", "AWS_ALLOW_HTTP", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)  # restored (removed) after the test
    bucket = f"tls-lake-{uuid.uuid4().hex[:12]}"
    ensure_bucket(bucket)  # boto3 reads AWS_CA_BUNDLE itself
    return f"s3://{bucket}/lake"


def test_pyarrow_and_delta_rs_write_and_read_over_https_with_a_private_ca(https_env: str) -> None:
    lake = Lake.from_settings(Settings(lake_url=https_env))
    fs, root = lake.filesystem()
    with fs.open_output_stream(f"{root}/staged/probe.txt") as stream:
        stream.write(b"over tls")
    with fs.open_input_stream(f"{root}/staged/probe.txt") as stream:
        assert stream.read() == b"over tls"

    table = pa.table({"meter_id": ["MAC000001", "MAC000002"], "energy_kwh": [0.2, 0.4]})
    write_deltalake(lake.url("raw"), table, storage_options=lake.storage_options())
    read = DeltaTable(lake.url("raw"), storage_options=lake.storage_options()).to_pyarrow_table()
    assert read.sort_by("meter_id").equals(table)


def test_a_ca_that_did_not_sign_the_endpoint_is_refused(
    https_env: str, untrusted_ca: ThrowawayCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(untrusted_ca.ca_file))
    fs, root = Lake.from_settings(Settings(lake_url=https_env)).filesystem()
    with pytest.raises(OSError, match=r"(?i)ssl|certificate|curl"):
        fs.get_file_info(f"{root}/staged/probe.txt")


@pytest.mark.parametrize("endpoint", ["http://minio:9000", "http://10.1.2.3:9000"])
def test_plain_http_off_loopback_needs_an_explicit_setting(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    strict = Lake.from_settings(Settings(lake_url="s3://smart-meter-data"))
    for call in (strict.storage_options, strict.filesystem):
        with pytest.raises(InsecureEndpointError, match="SMARTMETER_S3_ALLOW_HTTP=true"):
            call()
    allowed = Lake.from_settings(Settings(lake_url="s3://smart-meter-data", s3_allow_http=True))
    assert allowed.storage_options()["AWS_ALLOW_HTTP"] == "true"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")  # loopback: nothing crosses a network
    assert strict.storage_options()["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9000"


# ---------------------------------------------------------------------------------------------
# Spark's S3A: the stream's checkpoint on s3a:// over https, trusted through AWS_CA_BUNDLE alone
# ---------------------------------------------------------------------------------------------
def stream_settings(tmp_path: Path, lake_url: str, kafka_bootstrap: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        lake_url=lake_url,  # the checkpoint follows: s3a://<bucket>/lake/checkpoints/<query>
        kafka_bootstrap=kafka_bootstrap,
        kafka_topic=f"s3a-tls-{uuid.uuid4().hex[:8]}",
        spark_max_records_per_batch=400,
        spark_driver_memory="1g",
    )


def checkpoint_keys(settings: Settings) -> set[str]:
    """The checkpoint's objects in the bucket, relative to its folder (listed by boto3, not Spark)."""
    bucket, _, folder = checkpoint_location(settings).removeprefix("s3a://").partition("/")
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"{folder}/")
    return {item["Key"].removeprefix(f"{folder}/") for item in listed.get("Contents", [])}


def keytool_list(store: Path, password: str | None = None) -> str:
    command = [str(jvm_home() / "bin" / "keytool"), "-list", "-v", "-keystore", str(store)]
    command += ["-storepass", password] if password else ["-storetype", "PKCS12"]
    listed = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    return listed.stdout


def entries(listing: str) -> int:
    return int(listing.split("Your keystore contains ", 1)[1].split()[0])


def sha256_fingerprint(ca: ThrowawayCA) -> str:
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(ca.ca_file.read_text())).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def test_the_truststore_is_the_jvms_cas_plus_the_bundle_and_is_rebuilt_only_when_it_changes(
    test_ca: ThrowawayCA, untrusted_ca: ThrowawayCA, tmp_path: Path
) -> None:
    default_cas = entries(keytool_list(jvm_default_truststore(jvm_home()), password="changeit"))

    store = java_truststore(tmp_path, test_ca.ca_file)
    built = store.stat().st_mtime_ns

    listing = keytool_list(store)  # no password: the store has neither MAC nor encrypted entries
    assert store.parent == tmp_path / "tls" and store.suffix == ".p12"
    assert entries(listing) == default_cas + 1
    assert sha256_fingerprint(test_ca) in listing
    assert java_truststore(tmp_path, test_ca.ca_file) == store and store.stat().st_mtime_ns == built

    both = tmp_path / "both.pem"
    both.write_text(test_ca.ca_file.read_text() + untrusted_ca.ca_file.read_text())
    changed = java_truststore(tmp_path, both)
    assert changed != store
    listing = keytool_list(changed)
    assert entries(listing) == default_cas + 2
    assert sha256_fingerprint(test_ca) in listing and sha256_fingerprint(untrusted_ca) in listing


def test_a_bundle_of_cas_the_jvm_already_trusts_keeps_the_jvms_store(test_ca: ThrowawayCA, tmp_path: Path) -> None:
    """AWS_CA_BUNDLE naming the system's bundle (set machine-wide behind many proxies): no store, no keytool per CA."""
    default_store = jvm_default_truststore(jvm_home())
    known = sorted(jvm_trusted_certificates(jvm_home(), default_store))[:3]
    assert len(known) == 3
    system_like = tmp_path / "system.pem"
    system_like.write_text("".join(ssl.DER_cert_to_PEM_cert(der) for der in known))

    assert java_truststore(tmp_path, system_like) is None
    (verdict,) = (tmp_path / "tls").glob("*.adds-nothing")
    assert java_truststore(tmp_path, system_like) is None and verdict.is_file()  # kept: no keytool again

    # a private CA among known ones: the store adds only what the JVM lacks
    mixed = tmp_path / "mixed.pem"
    mixed.write_text(system_like.read_text() + test_ca.ca_file.read_text())
    store = java_truststore(tmp_path, mixed)
    assert store is not None
    assert entries(keytool_list(store)) == entries(keytool_list(default_store, password="changeit")) + 1


@pytest.mark.spark
def test_the_driver_starts_with_the_truststore_added_to_the_configured_java_options(
    test_ca: ThrowawayCA, tmp_path: Path
) -> None:
    conf_dir = tmp_path / "spark-conf"
    conf_dir.mkdir()
    (conf_dir / "spark-defaults.conf").write_text(
        (PRODUCTION_SPARK_CONF / "spark-defaults.conf").read_text()
        + "spark.driver.extraJavaOptions    -Dsmartmeter.configured=driver\n"
        + "spark.executor.extraJavaOptions  -Dsmartmeter.configured=executor\n"
    )
    script = (
        "import json, sys\n"
        "from smartmeter_assets.settings import Settings\n"
        "from smartmeter_assets.stream.session import build_session\n"
        "session = build_session(Settings(home=sys.argv[1], spark_master='local[1]'))\n"
        "system = session.sparkContext._jvm.java.lang.System\n"
        "beans = session.sparkContext._jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()\n"
        "hotspot = session.sparkContext._jvm.java.lang.management.ManagementFactory.getPlatformMXBean(\n"
        "    session.sparkContext._jvm.java.lang.Class.forName('com.sun.management.HotSpotDiagnosticMXBean'))\n"
        "print(json.dumps({name: system.getProperty(name) for name in sys.argv[2:]}\n"
        "    | {'executor': session.sparkContext.getConf().get('spark.executor.extraJavaOptions')}\n"
        "    | {'collectors': [bean.getName() for bean in beans]}\n"
        "    | {'tier4': hotspot.getVMOption('Tier4InvocationThreshold').getValue()}\n"
        "    | {'huge': hotspot.getVMOption('DontCompileHugeMethods').getValue()}))\n"
        "session.stop()\n"
    )
    properties = ["javax.net.ssl.trustStore", "javax.net.ssl.trustStoreType", "smartmeter.configured"]
    env = {**job_environment(Settings(home=tmp_path)), "SPARK_CONF_DIR": str(conf_dir)}
    env["AWS_CA_BUNDLE"] = str(test_ca.ca_file)

    started = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "home"), *properties], env=env, capture_output=True, timeout=180
    )

    assert started.returncode == 0, started.stderr.decode()[-3000:]
    seen = json.loads(started.stdout.decode().strip().splitlines()[-1])
    [store] = (tmp_path / "home" / "tls").glob("s3a-truststore-*.p12")
    assert seen["javax.net.ssl.trustStore"] == str(store)
    assert seen["javax.net.ssl.trustStoreType"] == "PKCS12"
    assert seen["smartmeter.configured"] == "driver"  # the configured options are kept, not replaced
    assert seen["tier4"] == "50000" and "-XX:Tier4InvocationThreshold=50000" in JIT_OPTIONS  # C2 waits
    assert seen["huge"] == "false"  # the stream's generated stage is compiled, not interpreted
    assert sorted(seen["collectors"]) == ["PS MarkSweep", "PS Scavenge"]  # the throughput collector: none configured
    assert seen["executor"].split()[-4:] == [  # after Spark's own --add-opens
        "-Dsmartmeter.configured=executor",
        THROUGHPUT_COLLECTOR,
        f"-Djavax.net.ssl.trustStore={store}",
        "-Djavax.net.ssl.trustStoreType=PKCS12",
    ]


@pytest.mark.spark
@pytest.mark.kafka
def test_the_stream_checkpoints_on_s3a_over_https_signed_by_the_bundles_ca(
    https_env: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = stream_settings(tmp_path, https_env, kafka_bootstrap)
    ensure_topic(kafka_bootstrap, settings.kafka_topic)
    published = publish(kafka_bootstrap, settings.kafka_topic, 0, 1200, 40)
    env = {**job_environment(settings), "SPARK_CONF_DIR": str(PRODUCTION_SPARK_CONF)}

    finished = subprocess.run(STREAM, env=env, capture_output=True, timeout=300)

    output = (finished.stdout + finished.stderr).decode()
    assert finished.returncode == 0, output[-3000:]
    assert checkpoint_location(settings).startswith("s3a://")
    written_by_s3a = checkpoint_keys(settings)
    assert {"metadata", "offsets/0", "commits/0"} <= written_by_s3a, written_by_s3a
    assert sum(committed_offsets(settings).values()) == published.messages
    assert read_table(Lake.from_settings(settings), RAW).num_rows == len(published.readings) == 1200
    assert len(list((settings.home / "tls").glob("s3a-truststore-*.p12"))) == 1


@pytest.mark.kafka
def test_a_ca_that_did_not_sign_the_endpoint_stops_the_stream_in_one_line_before_s3_is_touched(
    https_env: str, https_s3: str, untrusted_ca: ThrowawayCA, kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = stream_settings(tmp_path, https_env, kafka_bootstrap)
    env = {
        **job_environment(settings),
        "SPARK_CONF_DIR": str(PRODUCTION_SPARK_CONF),
        "AWS_CA_BUNDLE": str(untrusted_ca.ca_file),
    }

    finished = subprocess.run(STREAM, env=env, capture_output=True, timeout=120)

    assert finished.returncode == 1
    line = one_line_error(finished.stdout + finished.stderr)
    assert f"the S3 endpoint {https_s3} fails verification against AWS_CA_BUNDLE ({untrusted_ca.ca_file})" in line
    assert "unable to get local issuer certificate" in line
    assert checkpoint_keys(settings) == set()  # listed with the right CA: nothing was written
    assert not (settings.home / "tls").exists()  # refused before any JVM or truststore


def test_a_collector_named_in_spark_defaults_is_kept_alone() -> None:
    """Two collectors stop a JVM at start ("Conflicting collector combinations"): a configured one wins."""
    options = java_options({"spark.driver.extraJavaOptions": "-Xss4m -XX:+UseG1GC -XX:MaxGCPauseMillis=50"}, None)

    jit = " ".join(JIT_OPTIONS)  # first: options of the same name in spark-defaults.conf win
    assert options["spark.driver.extraJavaOptions"] == f"{jit} -Xss4m -XX:+UseG1GC -XX:MaxGCPauseMillis=50"
    assert options["spark.executor.extraJavaOptions"] == f"{jit} {THROUGHPUT_COLLECTOR}"  # that key names none
    trusted = java_options({}, "-Dtrust=store")["spark.driver.extraJavaOptions"]
    assert trusted == f"{jit} {THROUGHPUT_COLLECTOR} -Dtrust=store"
