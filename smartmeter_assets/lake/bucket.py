"""Create the lake's S3 bucket by code, idempotently, before anything writes to it.

The original pipeline asked users to click a bucket into existence in the MinIO console. Here
``smartmeter init-infra`` (the production stack's one-shot ``init`` service) calls
:func:`ensure_bucket`, and the test fixtures use the same function against moto, so the path that
creates buckets in production is the one the tests run.

Endpoint, region and credentials come from the standard AWS variables (``AWS_ENDPOINT_URL``,
``AWS_REGION``, ``AWS_ACCESS_KEY_ID`` ...), exactly as :class:`~smartmeter_assets.lake.storage.Lake`
reads them, so MinIO, moto and AWS itself need no code of their own.
"""

from __future__ import annotations

import os
import re

import boto3
from botocore.client import BaseClient
from botocore.exceptions import ClientError

DEFAULT_REGION = "us-east-1"

# S3's naming rules for new buckets (3-63 chars, lowercase letters, digits, dots, hyphens, starting
# and ending with a letter or digit). Checked here so a typo fails with a sentence, not an HTTP 400.
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_S3_SCHEMES = ("s3://", "s3a://")


class BucketError(RuntimeError):
    """The bucket cannot be used: a bad name, owned by someone else, or no permission."""


def region() -> str:
    """The region every S3 client of the project uses (``AWS_REGION``, as delta-rs reads it)."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def endpoint_url() -> str | None:
    """A custom S3 endpoint (MinIO, moto), or None for AWS itself. Empty counts as unset."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def bucket_of(lake_root: str) -> str:
    """The bucket of an ``s3://bucket[/prefix]`` lake root (what ``init-infra`` must create)."""
    if not lake_root.startswith(_S3_SCHEMES):
        raise BucketError(f"lake root {lake_root!r} is not on S3 (expected s3://bucket[/prefix])")
    bucket = lake_root.split("://", 1)[1].split("/", 1)[0]
    validate_bucket_name(bucket)
    return bucket


def validate_bucket_name(bucket: str) -> None:
    if not _BUCKET_NAME.match(bucket) or ".." in bucket or _IP_ADDRESS.match(bucket):
        raise BucketError(
            f"{bucket!r} is not a valid S3 bucket name: 3-63 characters, lowercase letters, "
            "digits, '.' and '-', starting and ending with a letter or digit"
        )


def s3_client() -> BaseClient:
    """A boto3 S3 client on the configured endpoint and region."""
    return boto3.client("s3", endpoint_url=endpoint_url(), region_name=region())


def ensure_bucket(bucket: str) -> bool:
    """Make sure ``bucket`` exists and is ours; True when this call created it.

    Safe to run on every start and from several processes at once: an existing bucket of ours is
    left alone, and losing a creation race to ourselves counts as success. A bucket that exists
    but belongs to another account (global names on AWS) or that we may not read is an error, so
    the pipeline never starts writing into something it cannot use.
    """
    validate_bucket_name(bucket)
    client = s3_client()
    try:
        client.head_bucket(Bucket=bucket)
        return False
    except ClientError as error:
        status = _status(error)
        if status in (301, 403):
            raise BucketError(
                f"bucket {bucket!r} exists but these credentials cannot use it (HTTP {status}"
                f"{', it lives in another region' if status == 301 else ''}): choose another name "
                "in SMARTMETER_LAKE_URL or fix the credentials"
            ) from error
        if status != 404:
            raise
    return _create(client, bucket)


def _create(client: BaseClient, bucket: str) -> bool:
    kwargs: dict[str, object] = {"Bucket": bucket}
    if region() != DEFAULT_REGION:  # us-east-1 is the one region that rejects a constraint
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region()}
    try:
        client.create_bucket(**kwargs)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "BucketAlreadyOwnedByYou":
            return False
        if code == "BucketAlreadyExists":
            raise BucketError(
                f"bucket name {bucket!r} is taken by another account: choose another in SMARTMETER_LAKE_URL"
            ) from error
        raise
    client.get_waiter("bucket_exists").wait(Bucket=bucket, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return True


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
