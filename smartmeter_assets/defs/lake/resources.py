"""The lake as a Dagster resource: the one root every asset reads and writes under."""

from __future__ import annotations

from dagster import ConfigurableResource

from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import DEFAULT_QUERY_MEMORY_LIMIT, Settings


class LakeResource(ConfigurableResource):
    """Lake root (absolute folder or ``s3://bucket/prefix``); S3 credentials from AWS_* env vars."""

    url: str
    allow_http: bool = False  # plain http to a non-loopback S3 endpoint
    query_memory_limit: str = DEFAULT_QUERY_MEMORY_LIMIT  # each DuckDB query's memory bound

    @classmethod
    def from_settings(cls, settings: Settings) -> LakeResource:
        return cls(
            url=settings.lake_root,
            allow_http=settings.s3_allow_http,
            query_memory_limit=settings.query_memory_limit,
        )

    def lake(self) -> Lake:
        return Lake(self.url, self.allow_http, self.query_memory_limit)
