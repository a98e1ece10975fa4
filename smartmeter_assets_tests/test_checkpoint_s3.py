"""The sensor's committed offsets come from the checkpoint on S3 (s3a://) as they do from a folder."""

from __future__ import annotations

import boto3

from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.checkpoint import committed_offsets

OFFSETS = '{"smart-meter-topic": {"0": 12, "1": 7}}'  # Spark's kafka source offset


def test_committed_offsets_are_read_from_an_s3a_checkpoint(s3_lake_url: str) -> None:
    bucket, _, prefix = s3_lake_url.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3")
    root = f"{prefix}/checkpoints/q"
    first = b'v1\n{"batchWatermarkMs":0}\n{"smart-meter-topic": {"0": 3}}'
    s3.put_object(Bucket=bucket, Key=f"{root}/offsets/0", Body=first)
    s3.put_object(Bucket=bucket, Key=f"{root}/commits/0", Body=b"v1\n{}")
    s3.put_object(Bucket=bucket, Key=f"{root}/offsets/1", Body=f'v1\n{{"batchWatermarkMs":0}}\n{OFFSETS}'.encode())
    settings = Settings(lake_url=s3_lake_url, stream_query_name="q")
    assert committed_offsets(settings) == {0: 3}  # batch 1 is planned, not committed
    s3.put_object(Bucket=bucket, Key=f"{root}/commits/1", Body=b"v1\n{}")
    assert committed_offsets(settings) == {0: 12, 1: 7}
    assert committed_offsets(Settings(lake_url=s3_lake_url, stream_query_name="never-ran")) == {}
