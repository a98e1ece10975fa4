"""A micro-batch into the lake's Delta tables, exactly once (design.md section 3).

Every table's write commits with a delta-rs app transaction: ``app_id`` =
``<query>:<stream id>:<table>``, ``version`` = the batch id. The stream id is the identity of the
Spark checkpoint (its query id, kept in the checkpoint): a batch replayed after a crash asks each
table for its committed version and skips the tables that already hold it, so nothing is written
twice; a NEW checkpoint (deleted, reset, or a recreated topic) is a new stream id whose batch ids
restart at 0 without being mistaken for the old stream's, so nothing is skipped either.

Order matters: ``rejected``, ``anomalies``, ``aggregated``, the batch's progress figures, and
``raw`` LAST. Everything a batch writes is computed from ``raw/`` as it was *before* the batch
(which readings are new, the windows to recompute); ``raw/`` only changes with the batch's final
commit, so a replay after a crash anywhere in between recomputes exactly what the first attempt
did, and the figures are committed before Spark's own commit, never lost or zeroed by a crash.

Records read twice (a producer retry, a re-published day, a new checkpoint re-reading the topic):
the batch keeps the first copy of each (meter_id, timestamp), then an anti-join against the keys
``raw/`` already holds in the batch's reading_date partitions (the only ones a reading can be in,
so the lookup is pruned to a few days) keeps only the new ones. A reject is the same record when
its Kafka coordinates and raw value are; those already in ``rejected/`` are not written again.
One writer per table is the design, so this read-then-append is safe; duplicates are counted,
never silently lost (``duplicate_rows``, ``duplicate_rejects``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, Transaction, write_deltalake

from smartmeter_assets.contracts import (
    AGGREGATED,
    ANOMALIES,
    RAW,
    READING_KEY,
    REJECT_KEY,
    REJECTED,
    LakeTable,
)
from smartmeter_assets.lake.delta import open_table, read_table, table_uri
from smartmeter_assets.lake.progress import record_batch
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.stream.batch import first_of_each_reading, not_in, partition_ends, split_classified
from smartmeter_assets.stream.window import (
    AGGREGATE_INPUT_COLUMNS,
    WindowSpec,
    readings_filter,
    recompute,
    touched_days,
)

log = logging.getLogger(__name__)


@dataclass
class BatchWrite:
    """What one batch did to the lake (part of the per-batch progress figures)."""

    batch_id: int
    input_rows: int = 0
    offsets: dict[str, int] = field(default_factory=dict)  # next offset per partition read in the batch
    rejected_rows: int = 0
    duplicate_rejects: int = 0
    raw_rows_written: int = 0
    duplicate_rows: int = 0
    anomaly_rows: int = 0
    aggregated_rows_written: int = 0
    late_rows_dropped: int = 0  # always 0: no reading is dropped from the aggregates (window.py)
    newest_event_time: str | None = None
    replayed_tables: list[str] = field(default_factory=list)  # already committed: skipped
    step_ms: dict[str, int] = field(default_factory=dict)  # where the batch's time went

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class _Clock:
    """Milliseconds per step of a batch, for the progress figures (where does the time go?)."""

    def __init__(self, into: dict[str, int]) -> None:
        self.into = into
        self.last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.into[step] = round((now - self.last) * 1000)
        self.last = now


def writer_id(query_name: str, stream_id: str) -> str:
    """Who writes: the query AND its checkpoint's identity (a new checkpoint is a new writer)."""
    return f"{query_name}:{stream_id}"


def app_id(writer: str, table: LakeTable) -> str:
    return f"{writer}:{table.name}"


def committed_version(lake: Lake, table: LakeTable, writer: str) -> int | None:
    """The last batch id ``writer`` committed to ``table`` (None: never)."""
    delta = open_table(lake, table)
    return None if delta is None else delta.transaction_version(app_id(writer, table))


def _sql_time(moment: datetime) -> str:
    return f"'{moment.strftime('%Y-%m-%d %H:%M:%S.%f')}'"


class LakeWriter:
    """Writes micro-batches of one stream (a query and its checkpoint) into one lake."""

    def __init__(self, lake: Lake, query_name: str, stream_id: str, windows: WindowSpec) -> None:
        self.lake = lake
        self.query_name = query_name
        self.writer = writer_id(query_name, stream_id)
        self.windows = windows

    # -- one table, one commit ---------------------------------------------------------------
    def _commit(
        self,
        table: LakeTable,
        data: pa.Table,
        batch_id: int,
        *,
        predicate: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        properties = CommitProperties(
            custom_metadata={"batch_id": str(batch_id), **(metadata or {})},
            app_transactions=[Transaction(app_id(self.writer, table), batch_id)],
        )
        write_deltalake(
            table_uri(self.lake, table),
            data,
            mode="overwrite" if predicate else "append",
            predicate=predicate,
            partition_by=[table.partition_column],
            storage_options=self.lake.storage_options() or None,
            commit_properties=properties,
        )

    def _done(self, table: LakeTable, batch_id: int) -> bool:
        version = committed_version(self.lake, table, self.writer)
        return version is not None and version >= batch_id

    # -- the batch -------------------------------------------------------------------------
    def write_batch(self, classified: pa.Table, batch_id: int, step_ms: dict[str, int] | None = None) -> BatchWrite:
        """Route a classified batch to the tables; idempotent per (writer, batch id).

        ``step_ms``: time already spent on the batch before it reached here (Spark's part), kept
        in the recorded figures.
        """
        result = BatchWrite(batch_id, input_rows=classified.num_rows, step_ms=dict(step_ms or {}))
        result.offsets = {str(p): o for p, o in partition_ends(classified).items()}
        if self._done(RAW, batch_id):  # raw commits last: the whole batch is in
            result.replayed_tables = [t.name for t in (REJECTED, ANOMALIES, AGGREGATED, RAW)]
            return result
        clock = _Clock(result.step_ms)
        readings, rejects = split_classified(classified)
        new = self._new_readings(readings)
        rejects_done = rejects.num_rows > 0 and self._done(REJECTED, batch_id)
        new_rejects = rejects if rejects_done else self._new_rejects(rejects)  # a replay: as first written
        clock.lap("dedup")
        result.duplicate_rows = readings.num_rows - new.num_rows
        result.rejected_rows = new_rejects.num_rows
        result.duplicate_rejects = rejects.num_rows - new_rejects.num_rows
        if new.num_rows:
            result.newest_event_time = str(pc.max(new["timestamp"]).as_py())

        self._write_unless_done(REJECTED, new_rejects, batch_id, result)
        anomalies = new.filter(new["is_anomaly"]) if new.num_rows else new
        result.anomaly_rows = anomalies.num_rows
        self._write_unless_done(ANOMALIES, anomalies, batch_id, result)
        clock.lap("rejected_anomalies")
        self._write_aggregates(new, batch_id, result)
        clock.lap("aggregated")
        result.raw_rows_written = new.num_rows
        self._record_progress(result)
        clock.lap("progress")
        self._write_unless_done(RAW, new, batch_id, result)
        clock.lap("raw")
        return result

    def _record_progress(self, result: BatchWrite) -> None:
        """The batch's figures, committed before raw/ (so before Spark's commit too), once."""
        if not record_batch(self.lake, self.writer, self.query_name, result.as_dict()):
            result.replayed_tables.append("progress")

    def _write_unless_done(self, table: LakeTable, data: pa.Table, batch_id: int, result: BatchWrite) -> None:
        if data.num_rows == 0:
            return
        if self._done(table, batch_id):
            result.replayed_tables.append(table.name)
            return
        self._commit(table, data, batch_id)

    def _new_readings(self, readings: pa.Table) -> pa.Table:
        unique = first_of_each_reading(readings)
        if unique.num_rows == 0:
            return unique
        days = pc.unique(unique["reading_date"])
        existing = read_table(self.lake, RAW, columns=list(READING_KEY), filter=pc.field("reading_date").isin(days))
        return not_in(unique, existing)

    def _new_rejects(self, rejects: pa.Table) -> pa.Table:
        """The rejects ``rejected/`` does not hold yet (a new checkpoint reads old records again)."""
        if rejects.num_rows == 0:
            return rejects
        partitions = pc.unique(rejects["kafka_partition"])
        offsets = rejects["kafka_offset"]
        known = read_table(
            self.lake,
            REJECTED,
            columns=list(REJECT_KEY),
            filter=pc.field("kafka_partition").isin(partitions)
            & (pc.field("kafka_offset") >= pc.min(offsets))
            & (pc.field("kafka_offset") <= pc.max(offsets)),
        )
        return not_in(rejects, known, REJECT_KEY)

    def _write_aggregates(self, new: pa.Table, batch_id: int, result: BatchWrite) -> None:
        """Recompute every window the new readings fall in, day by day, from ``raw/`` plus them.

        No reading is ever left out (window.py: no watermark), so ``late_rows_dropped`` stays 0.
        """
        touched = touched_days(new, self.windows)
        if not touched:
            return
        if self._done(AGGREGATED, batch_id):
            result.replayed_tables.append(AGGREGATED.name)
            return
        columns = list(AGGREGATE_INPUT_COLUMNS)
        earlier = read_table(self.lake, RAW, columns=columns, filter=readings_filter(touched, self.windows))
        readings = pa.concat_tables([earlier, new.select(columns).cast(earlier.schema)])
        aggregates = recompute(readings, self.windows, touched)
        predicate = " OR ".join(
            f"(window_date = '{span.day}' AND window_start >= {_sql_time(span.first_start)} "
            f"AND window_start <= {_sql_time(span.last_start)})"
            for span in touched
        )
        metadata = {"window_days": ",".join(str(span.day) for span in touched)}
        self._commit(AGGREGATED, aggregates, batch_id, predicate=predicate, metadata=metadata)
        result.aggregated_rows_written = aggregates.num_rows
