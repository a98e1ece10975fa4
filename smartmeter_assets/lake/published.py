"""The publish records: the Delta table ``<lake>/published`` of which offsets each published day took.

Why in the lake and not beside the producer: the records are read by the stream side (landing,
replay, the reconciliation checks, ``smartmeter run``) as much as written by the publish, and
they live in the lake like every other table. The publish hands over what it sent (any
:class:`PublishOutcome`, e.g. :class:`smartmeter_assets.kafka.publish.PublishReport`), and this
module owns the rows, the append and "the latest publish of each day".

How a re-published day is counted once: every publish appends one row per (day, partition), empty
partitions included, with its run id and the digest of the keys it sent
(:mod:`smartmeter_assets.lake.reading_keys`); readers take the latest publish of each day.

How two publishes never lose each other's record: appends are Delta commits, and on S3 the lake
uses conditional writes (:meth:`Lake.storage_options`), so a commit that races another fails and
is retried by delta-rs instead of overwriting it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Protocol

import pandas as pd
import pyarrow as pa
from deltalake import write_deltalake

from smartmeter_assets.contracts import PUBLISHED_COLUMNS, PUBLISHED_DIR, PUBLISHED_NOT_NULL
from smartmeter_assets.lake.delta import read_delta
from smartmeter_assets.lake.schema import arrow_schema
from smartmeter_assets.lake.storage import Lake

PUBLISHED_SCHEMA = arrow_schema(PUBLISHED_COLUMNS, PUBLISHED_NOT_NULL)
#: Columns that joined the contract after publish records were first written (they read as null).
_ADDED_LATER = ("key_digest",)


class PartitionOutcome(Protocol):
    """What one partition of the topic received from a publish."""

    partition: int
    records: int
    bytes: int
    first_offset: int | None
    last_offset: int | None


class PublishOutcome(Protocol):
    """What a publish sent: its topic and every partition of it (empty ones included)."""

    topic: str

    @property
    def partitions(self) -> Sequence[PartitionOutcome]: ...


def publish_records(
    report: PublishOutcome,
    day: date,
    run_id: str,
    published_at: datetime | None = None,
    key_digest: str | None = None,
) -> pa.Table:
    """One row per partition of the topic (empty partitions included, so a publish is complete),
    each carrying the digest of every key the publish sent."""
    moment = (published_at or datetime.now(UTC)).astimezone(UTC)
    rows = [
        {
            "day": day,
            "topic": report.topic,
            "partition": p.partition,
            "first_offset": p.first_offset,
            "last_offset": p.last_offset,
            "records": p.records,
            "bytes": p.bytes,
            "run_id": run_id,
            "published_at": moment,
            "key_digest": key_digest,
        }
        for p in report.partitions
    ]
    return pa.Table.from_pylist(rows, schema=PUBLISHED_SCHEMA)


def write_publish_records(lake: Lake, records: pa.Table) -> None:
    """Append a publish to ``<lake>/published`` (Delta, partitioned by nothing: it stays small).

    ``schema_mode="merge"``: a table written before ``key_digest`` existed gains the column.
    """
    write_deltalake(
        lake.url(PUBLISHED_DIR),
        records,
        mode="append",
        schema_mode="merge",
        storage_options=lake.storage_options() or None,
    )


def published_days(lake: Lake) -> pd.DataFrame:
    """The latest publish of every day: one row per (day, partition), columns of PUBLISHED_SCHEMA.

    "Latest" is the publish with the newest ``published_at`` for that day; since a publish
    writes every partition, its rows are also the latest per (day, partition). Empty when
    nothing was published yet.
    """
    # offsets as nullable integers: exact, and null (not NaN) where a partition got nothing
    integers = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype()}.get
    data = read_delta(lake, PUBLISHED_DIR, PUBLISHED_SCHEMA, added_later=_ADDED_LATER)
    frame = data.to_pandas(types_mapper=integers)
    if frame.empty:
        return frame
    latest = frame.groupby("day")["published_at"].transform("max")
    frame = frame.loc[frame["published_at"] == latest]
    return frame.sort_values(["day", "partition"], ignore_index=True)
