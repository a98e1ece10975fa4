"""Keep the lake's Delta tables healthy as they grow: compact, vacuum, checkpoint the log.

Why: the stream commits every few seconds, each commit adding a few small Parquet files per
partition and one JSON log entry. After months, readers open thousands of small files and replay
thousands of log entries (delta-rs loads slow with many commits: delta-io/delta-rs#2518). So, per
table:

- **compact** (delta-rs ``optimize.compact``) the partitions the stream has moved past (older than
  the newest partition minus ``settle_days``): the stream still appends to, and for ``aggregated/``
  rewrites, the newest ones, and a compaction there would only conflict with it;
- **vacuum** files no version younger than the retention needs (readers of older versions and a
  stream batch in flight keep working: retention is hours, batches seconds);
- **checkpoint** the log, so a reader loads one Parquet checkpoint plus the few entries after it.

Compaction only rewrites files (the rows, their order within a partition and every app transaction
stay), so exactly-once holds across it. A concurrent stream commit that conflicts with it fails its
batch, which Spark replays; the replay skips what committed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from deltalake import DeltaTable

from smartmeter_assets.contracts import LAKE_TABLES, PROGRESS_DIR
from smartmeter_assets.lake.delta import open_delta
from smartmeter_assets.lake.storage import Lake

log = logging.getLogger(__name__)


@dataclass
class TableMaintenance:
    """What one pass did to one table."""

    table: str
    files_before: int = 0
    files_after: int = 0
    files_compacted: int = 0  # small files removed by compaction
    files_written: int = 0  # the files that replaced them
    files_vacuumed: int = 0
    log_version: int = -1
    checkpointed: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _partitions_before(delta: DeltaTable, column: str, settle_days: int) -> list[tuple[str, str, str]] | None:
    """Delta partition filters for the settled partitions; None when none is settled yet."""
    values = {str(part[column]) for part in delta.partitions() if part.get(column) is not None}
    if not values:
        return None
    newest = max(date.fromisoformat(value) for value in values)
    cutoff = newest - timedelta(days=settle_days)
    if not any(date.fromisoformat(value) < cutoff for value in values):
        return None
    return [(column, "<", cutoff.isoformat())]


#: Every table maintained, with its partition column (None: append-only and unpartitioned, so the
#: whole table is compacted).
MAINTAINED: tuple[tuple[str, str | None], ...] = (
    *((table.name, table.partition_column) for table in LAKE_TABLES),
    (PROGRESS_DIR, None),
)


def maintain_table(
    lake: Lake,
    name: str,
    partition_column: str | None,
    *,
    retention_hours: int,
    settle_days: int = 1,
    target_file_mb: int = 128,
) -> TableMaintenance:
    """Compact settled partitions, vacuum past ``retention_hours``, checkpoint the log."""
    started = time.perf_counter()
    result = TableMaintenance(name)
    delta = open_delta(lake, name)
    if delta is None:
        return result
    result.files_before = len(delta.file_uris())
    settled = [] if partition_column is None else _partitions_before(delta, partition_column, settle_days)
    if settled is not None:
        figures = delta.optimize.compact(partition_filters=settled or None, target_size=target_file_mb * 2**20)
        result.files_compacted = int(figures.get("numFilesRemoved", 0))
        result.files_written = int(figures.get("numFilesAdded", 0))
    vacuumed = delta.vacuum(retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False)
    result.files_vacuumed = len(vacuumed)
    delta.create_checkpoint()
    delta.cleanup_metadata()  # log entries older than the log retention, now covered by the checkpoint
    result.checkpointed = True
    result.log_version = delta.version()
    result.files_after = len(delta.file_uris())
    result.seconds = round(time.perf_counter() - started, 3)
    log.info(
        "lake %s: %d -> %d files (%d compacted into %d, %d vacuumed), log checkpointed at version %d in %.1fs",
        name, result.files_before, result.files_after, result.files_compacted, result.files_written,
        result.files_vacuumed, result.log_version, result.seconds,
    )  # fmt: skip
    return result


def maintain_lake(lake: Lake, *, retention_hours: int, settle_days: int = 1) -> list[TableMaintenance]:
    """:func:`maintain_table` for every table the stream writes."""
    return [
        maintain_table(lake, name, column, retention_hours=retention_hours, settle_days=settle_days)
        for name, column in MAINTAINED
    ]
