"""TLS to S3: an https endpoint signed by a private CA, and the refusal of plain http off loopback.

moto's S3 server runs here over https with a certificate from the test session's throwaway CA;
``AWS_CA_BUNDLE`` names that CA, as a user names their company's CA. pyarrow (staged Parquet),
delta-rs (the Delta tables) and boto3 (bucket creation) all go through it; a CA that did not sign
the server's certificate fails.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from smartmeter_assets.kafka.broker import free_port
from smartmeter_assets.lake.bucket import ensure_bucket
from smartmeter_assets.lake.storage import InsecureEndpointError, Lake
from smartmeter_assets.settings import Settings
from smartmeter_assets_tests.fixtures.tls import ThrowawayCA


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
