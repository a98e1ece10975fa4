"""One way to reach the lake root, whether it is a local folder or an S3 bucket.

pyarrow (staged Parquet), deltalake (Delta tables) and Spark (checkpoints) each want the location
spelled their own way; this module spells it for each from the one ``Settings.lake_root``. S3
credentials and endpoint come from the standard AWS variables so MinIO, moto and AWS all work the
same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from smartmeter_assets.settings import Settings


@dataclass(frozen=True)
class Lake:
    """The lake root plus how to talk to it."""

    root: str  # s3://bucket/prefix or an absolute local path

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        return cls(settings.lake_root)

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
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3")
        kwargs: dict[str, object] = {"region": os.environ.get("AWS_REGION", "us-east-1")}
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
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3")
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
