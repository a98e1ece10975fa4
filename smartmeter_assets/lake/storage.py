"""One way to reach the lake root, whether it is a local folder or an S3 bucket.

pyarrow (staged Parquet), deltalake (Delta tables) and Spark (checkpoints) each want the location
spelled their own way; this module spells it for each from the one ``Settings.lake_root``. S3
credentials and endpoint come from the standard AWS variables so MinIO, moto and AWS all work the
same way.

Transport: an ``https`` endpoint signed by a private CA is trusted through ``AWS_CA_BUNDLE`` (the
AWS variable boto3 already reads): pyarrow gets it as ``tls_ca_file_path``; delta-rs (object_store
over rustls) has no per-store CA option and takes its roots from ``SSL_CERT_FILE``, which is set to
that bundle for this process when unset. Plain ``http`` carries the S3 credentials in the clear, so
it is refused unless the endpoint is on loopback or ``SMARTMETER_S3_ALLOW_HTTP`` allows it (the
bundled MinIO inside the compose network).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from smartmeter_assets.settings import DEFAULT_QUERY_MEMORY_LIMIT, ENV_PREFIX, Settings

_LOOPBACK_NAMES = ("localhost",)


class InsecureEndpointError(ValueError):
    """A plain-http S3 endpoint off this machine, not explicitly allowed."""


def s3_endpoint() -> str | None:
    """``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (MinIO, moto); None for AWS itself."""
    return os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3") or None


def s3_ca_bundle() -> str | None:
    """``AWS_CA_BUNDLE``: the PEM CA(s) of an endpoint signed by a private CA. Empty counts as unset."""
    return os.environ.get("AWS_CA_BUNDLE") or None


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(endpoint: str | None, allow_http: bool) -> None:
    """Refuse plain http to another machine unless allowed: the credentials would cross in clear."""
    if endpoint is None or not endpoint.startswith("http://") or allow_http:
        return
    host = urlsplit(endpoint).hostname or ""
    if not is_loopback(host):
        raise InsecureEndpointError(
            f"the S3 endpoint {endpoint} is plain http to {host}: credentials and data would cross the "
            f"network unencrypted; use https (AWS_CA_BUNDLE names a private CA) or set "
            f"{ENV_PREFIX}S3_ALLOW_HTTP=true inside a private network"
        )


@dataclass(frozen=True)
class Lake:
    """The lake root plus how to talk to it."""

    root: str  # s3://bucket/prefix or an absolute local path
    allow_http: bool = False  # plain http to a non-loopback S3 endpoint (Settings.s3_allow_http)
    query_memory_limit: str = DEFAULT_QUERY_MEMORY_LIMIT  # each DuckDB over it (Settings.query_memory_limit)

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        return cls(settings.lake_root, settings.s3_allow_http, settings.query_memory_limit)

    @property
    def is_s3(self) -> bool:
        return self.root.startswith(("s3://", "s3a://"))

    def url(self, *parts: str) -> str:
        """A location under the root, as deltalake and DuckDB-over-Arrow readers take it."""
        base = self.root.replace("s3a://", "s3://", 1)
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p)])

    def spark_url(self, *parts: str) -> str:
        """Spark (hadoop-aws) spells S3 as ``s3a://``."""
        url = self.url(*parts)
        return url.replace("s3://", "s3a://", 1) if self.is_s3 else url

    def filesystem(self) -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem and the root path inside it."""
        if not self.is_s3:
            Path(self.root).mkdir(parents=True, exist_ok=True)
            return pafs.LocalFileSystem(), self.root
        bucket_and_prefix = self.url().removeprefix("s3://")
        endpoint = s3_endpoint()
        check_transport(endpoint, self.allow_http)
        kwargs: dict[str, object] = {"region": os.environ.get("AWS_REGION", "us-east-1")}
        if s3_ca_bundle():
            kwargs["tls_ca_file_path"] = s3_ca_bundle()
        if endpoint:
            scheme, _, host = endpoint.partition("://")
            kwargs.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
        if os.environ.get("AWS_ACCESS_KEY_ID"):
            kwargs.update(
                access_key=os.environ["AWS_ACCESS_KEY_ID"],
                secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            )
        return pafs.S3FileSystem(**kwargs), bucket_and_prefix

    def path(self, *parts: str) -> str:
        """A location under the root inside :meth:`filesystem` (no scheme)."""
        return self.url(*parts).removeprefix("s3://")

    def storage_options(self) -> dict[str, str]:
        """deltalake's ``storage_options`` for this root (empty for a local folder)."""
        if not self.is_s3:
            return {}
        options = {"AWS_REGION": os.environ.get("AWS_REGION", "us-east-1")}
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            if os.environ.get(name):
                options[name] = os.environ[name]
        endpoint = s3_endpoint()
        check_transport(endpoint, self.allow_http)
        ca_bundle = s3_ca_bundle()
        if ca_bundle:  # object_store's rustls roots: see the module docstring
            os.environ.setdefault("SSL_CERT_FILE", ca_bundle)
        if endpoint:
            options["AWS_ENDPOINT_URL"] = endpoint
            if endpoint.startswith("http://"):
                options["AWS_ALLOW_HTTP"] = "true"
        # Commits by S3 conditional writes (If-None-Match / If-Match on the log entry): two writers
        # racing for one version cannot overwrite each other; the loser retries on the next version.
        # delta-rs 1.x has no DynamoDB lock; AWS S3, MinIO and moto all honour conditional writes.
        # Never AWS_S3_ALLOW_UNSAFE_RENAME: it commits by copy + delete, unchecked.
        options["AWS_CONDITIONAL_PUT"] = "etag"
        return options
