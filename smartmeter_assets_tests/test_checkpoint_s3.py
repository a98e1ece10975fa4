"""The checkpoint on S3 (s3a://) reads and mends as a folder does: committed offsets, torn writes."""

from __future__ import annotations

import boto3

from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.checkpoint import checkpoint_location, committed_offsets, remove_unrenamed_writes

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


def test_files_a_killed_job_never_renamed_are_removed_from_an_s3a_checkpoint(s3_lake_url: str) -> None:
    bucket, _, prefix = s3_lake_url.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3")
    root = f"{prefix}/checkpoints/torn"
    kept = [f"{root}/offsets/0", f"{root}/offsets/.0.crc", f"{root}/commits/0", f"{root}/metadata"]
    torn = [
        f"{root}/offsets/.1.0b6f2d1c-6b7e-4c1e-9d0a-2f5c8e7a9b31.tmp",
        f"{root}/offsets/..1.0b6f2d1c-6b7e-4c1e-9d0a-2f5c8e7a9b31.tmp.crc",
        f"{root}/commits/.0.5a1e7c3d-2b4f-4a8e-b6d9-1c0f3e2a7b54.tmp",
    ]
    for key in kept + torn:
        s3.put_object(Bucket=bucket, Key=key, Body=b"v1\n{}")
    location = checkpoint_location(Settings(lake_url=s3_lake_url, stream_query_name="torn"))

    removed = remove_unrenamed_writes(location)

    assert sorted(path.removeprefix(f"{bucket}/") for path in removed) == sorted(torn)
    left = s3.list_objects_v2(Bucket=bucket, Prefix=f"{root}/")["Contents"]
    # pyarrow keeps an emptied folder as a marker object ("commits/"): not a file to Spark
    assert sorted(obj["Key"] for obj in left if not obj["Key"].endswith("/")) == sorted(kept)
    assert remove_unrenamed_writes(location) == []
