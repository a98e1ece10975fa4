"""Publish a day of enriched readings to Kafka, lose nothing, and record which offsets it took.

How it is fast enough: the producer is librdkafka (confluent-kafka), whose ``produce`` costs ~2 µs
of Python per record against kafka-python's ~18 µs (``benchmarks/publish.py`` measures both), and
that CPU is what a run shares with the Spark job on the same cores. Values are encoded in bulk
(:mod:`.message`), every record's partition is computed up front with Kafka's default partitioner
(murmur2, as the Java client), and the partitions can be shared out between producer processes,
each owning whole partitions so each meter's readings still leave one producer in order.

How it loses nothing: ``acks=all`` and an idempotent producer; every record's delivery report is
counted after ``flush``; any record not acknowledged fails the publish with the count
(:class:`PublishError`), and no publish record is written for a day that failed. Offsets come from
the delivery reports: the exact offsets this publish took, whatever else another producer appends
to the topic meanwhile.

What a publish leaves behind: :class:`PublishReport`, from which
:mod:`smartmeter_assets.lake.published` writes the day's publish record (the offsets it took and
the digest of the keys it sent) to the lake; the ``kafka_publish`` pool (limit 1 in the instance
config) keeps publishes one at a time.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from smartmeter_assets.contracts import TIMESTAMP_FORMAT
from smartmeter_assets.enrich import ENRICHED_COLUMNS
from smartmeter_assets.kafka.message import (
    encode_keys,
    encode_values,
    ingestion_timestamp,
    partitions_for_meters,
)
from smartmeter_assets.kafka.security import UNSECURED, KafkaSecurity
from smartmeter_assets.kafka.topic import check_connection

#: Rows encoded and sent per step: big enough for Arrow to amortise, small enough that the
#: ingestion stamp stays close to the send and memory stays flat.
CHUNK_ROWS = 20_000
_PARTITION_COLUMN = "__partition"
#: librdkafka's own log lines (a retried idempotence handshake on a broker just started, a lost
#: connection) go through Python's logging, into the run's logs, instead of straight to stderr.
_LIBRDKAFKA_LOG = logging.getLogger("smartmeter_assets.kafka.librdkafka")
_EVENT_SECONDS_COLUMN = "__event_seconds"


class PublishError(RuntimeError):
    """Some records were not acknowledged: the day is not published."""

    def __init__(self, topic: str, undelivered: int, total: int, cause: str) -> None:
        super().__init__(f"{undelivered} of {total} records were not delivered to topic {topic!r}: {cause}")
        self.topic, self.undelivered, self.total, self.cause = topic, undelivered, total, cause


@dataclass(frozen=True)
class ProducerTuning:
    """librdkafka producer settings; the defaults were measured in benchmarks/publish.py."""

    compression: str = "lz4"
    linger_ms: int = 20
    batch_size: int = 1024 * 1024
    #: Records waiting in the producer's queue: enough for a chunk in flight and the next one.
    queue_records: int = 500_000
    #: Idempotent producer: a retried batch is neither duplicated nor reordered in its partition.
    idempotent: bool = True
    max_in_flight: int = 5
    delivery_timeout_ms: int = 60_000
    request_timeout_ms: int = 30_000

    def producer_config(self, bootstrap: str) -> dict[str, object]:
        return {
            "bootstrap.servers": bootstrap,
            "client.id": f"smartmeter-publish-{os.getpid()}",
            "acks": "all",
            "enable.idempotence": self.idempotent,
            # never let a send create the topic with the broker's default partition count:
            # ensure_topic made it with ours before the first publish
            "allow.auto.create.topics": False,
            "compression.type": "none" if self.compression in ("", "none") else self.compression,
            "linger.ms": self.linger_ms,
            "batch.size": self.batch_size,
            "message.max.bytes": max(self.batch_size * 2, 1024 * 1024),
            "queue.buffering.max.messages": self.queue_records,
            "max.in.flight.requests.per.connection": self.max_in_flight,
            "delivery.timeout.ms": self.delivery_timeout_ms,
            "request.timeout.ms": self.request_timeout_ms,
        }


@dataclass
class PartitionReport:
    """What one partition received from this publish."""

    partition: int
    records: int = 0
    bytes: int = 0
    first_offset: int | None = None
    last_offset: int | None = None


@dataclass
class PublishReport:
    topic: str
    records: int
    bytes: int
    seconds: float
    processes: int
    partitions: list[PartitionReport] = field(default_factory=list)

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def offsets_metadata(self) -> dict[str, dict[str, int | None]]:
        """``{"p0": {"first": .., "last": .., "records": ..}, ...}`` for the materialization."""
        return {
            f"p{p.partition}": {"first": p.first_offset, "last": p.last_offset, "records": p.records}
            for p in self.partitions
        }


@dataclass
class _ShareResult:
    """What one producer (process) reports back: per partition, and its failures."""

    partitions: dict[int, PartitionReport]
    undelivered: int
    errors: list[str]


# ----------------------------------------------------------------------------------------------
# Preparing the day
# ----------------------------------------------------------------------------------------------
def readings_table(enriched: pd.DataFrame | pa.Table, partitions: int, with_event_seconds: bool = False) -> pa.Table:
    """The enriched rows as Arrow, with each row's Kafka partition (and event time if paced).

    An Arrow table (what the publish asset loads) is used as it is; a frame is converted.
    """
    names = enriched.column_names if isinstance(enriched, pa.Table) else list(enriched.columns)
    missing = [c for c in ENRICHED_COLUMNS if c not in names]
    if missing:
        raise ValueError(f"the enriched readings lack columns {missing}")
    if isinstance(enriched, pa.Table):
        table = enriched.select(list(ENRICHED_COLUMNS))
    else:
        table = pa.Table.from_pandas(enriched.loc[:, list(ENRICHED_COLUMNS)], preserve_index=False)
    table = table.append_column(
        _PARTITION_COLUMN, pa.array(partitions_for_meters(table["meter_id"], partitions), pa.int32())
    )
    if with_event_seconds:
        stamps = pc.strptime(table["timestamp"], format=TIMESTAMP_FORMAT, unit="s")
        seconds = pc.cast(stamps, pa.int64())
        start = pc.min(seconds).as_py() or 0
        table = table.append_column(_EVENT_SECONDS_COLUMN, pc.subtract(seconds, start))
    return table


def share_partitions(records_per_partition: dict[int, int], shares: int) -> list[list[int]]:
    """Whole partitions dealt out to ``shares`` producers, biggest first to the least loaded."""
    loads = [0] * shares
    owned: list[list[int]] = [[] for _ in range(shares)]
    for partition, records in sorted(records_per_partition.items(), key=lambda kv: (-kv[1], kv[0])):
        target = loads.index(min(loads))
        owned[target].append(partition)
        loads[target] += records
    return [sorted(parts) for parts in owned if parts]


def paced_chunks(table: pa.Table, speedup: float) -> Iterator[tuple[float, pa.Table]]:
    """(seconds after start the chunk is due, rows). Paced chunks follow event time."""
    if speedup <= 0:
        for offset in range(0, table.num_rows, CHUNK_ROWS):
            yield 0.0, table.slice(offset, CHUNK_ROWS)
        return
    event = table[_EVENT_SECONDS_COLUMN].to_numpy()
    boundaries = np.flatnonzero(np.diff(event)) + 1  # rows are in time order: one chunk per stamp
    starts = np.concatenate([[0], boundaries]).astype(int)
    ends = np.concatenate([boundaries, [table.num_rows]]).astype(int)
    for start, end in zip(starts, ends, strict=True):
        yield float(event[start]) / speedup, table.slice(start, end - start)


# ----------------------------------------------------------------------------------------------
# Producing (runs in each producer process)
# ----------------------------------------------------------------------------------------------
class _Deliveries:
    """What the delivery reports of one producer said: per partition, and the failures.

    librdkafka calls :meth:`report` once per record from ``poll``/``flush`` in this thread. Bytes
    are counted in bulk when a chunk is sent (:meth:`sent`) and taken back for a failed record, so
    the per-record callback stays a few dictionary updates.
    """

    def __init__(self) -> None:
        self.partitions: dict[int, PartitionReport] = {}
        self.errors: list[str] = []

    def sent(self, partitions: np.ndarray, sizes: np.ndarray) -> None:
        for partition, size in zip(*_sums_by_partition(partitions, sizes), strict=True):
            self._partition(int(partition)).bytes += int(size)

    def report(self, error: object, message: Any) -> None:
        partition = message.partition()
        if error is not None:
            if len(self.errors) < 5:
                self.errors.append(str(error))
            self._partition(partition).bytes -= len(message.value() or b"") + len(message.key() or b"")
            return
        offset = message.offset()
        report = self.partitions.get(partition) or self._partition(partition)
        report.records += 1
        if report.first_offset is None or offset < report.first_offset:
            report.first_offset = offset
        if report.last_offset is None or offset > report.last_offset:
            report.last_offset = offset

    def _partition(self, partition: int) -> PartitionReport:
        return self.partitions.setdefault(partition, PartitionReport(partition))


def _sums_by_partition(partitions: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    present = np.unique(partitions)
    return present, np.bincount(partitions, weights=sizes)[present].astype(np.int64)


def _send_all(producer: Any, topic: str, table: pa.Table, speedup: float, deliveries: _Deliveries) -> int:
    """Encode chunk by chunk and send every row to its own partition; the count handed to librdkafka.

    A full local queue (``BufferError``) is waited out by serving delivery reports, never dropped.
    """
    produce, poll = producer.produce, producer.poll
    started = time.monotonic()
    handed = 0
    for due, chunk in paced_chunks(table, speedup):
        wait = started + due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        encoded_values = encode_values(chunk, ingestion_timestamp())
        encoded_keys = encode_keys(chunk)
        partition_column = chunk[_PARTITION_COLUMN].to_numpy()
        sizes = pc.add(pc.binary_length(encoded_values), pc.binary_length(encoded_keys)).to_numpy()
        deliveries.sent(partition_column, sizes)
        values, keys = encoded_values.to_pylist(), encoded_keys.to_pylist()
        for key, value, partition in zip(keys, values, partition_column.tolist(), strict=True):
            while True:
                try:
                    produce(topic, value, key, partition)
                    break
                except BufferError:
                    poll(0.05)
            handed += 1
        poll(0)
    return handed


def _produce_share(
    bootstrap: str, topic: str, tuning: ProducerTuning, table: pa.Table, speedup: float, security: KafkaSecurity
) -> _ShareResult:
    """Send ``table`` (rows of whole partitions), wait for every delivery report, report."""
    from confluent_kafka import KafkaException, Producer

    deliveries = _Deliveries()
    fatal: list[str] = []

    def on_error(error: Any) -> None:  # connection-level: a record still fails only by its own report
        if error.fatal() and len(fatal) < 3:
            fatal.append(str(error))

    config = {
        **tuning.producer_config(bootstrap),
        **security.librdkafka_options(),
        "on_delivery": deliveries.report,
        "error_cb": on_error,
        "logger": _LIBRDKAFKA_LOG,
    }
    try:
        producer = Producer(config)
    except KafkaException as error:
        return _ShareResult({}, table.num_rows, [f"producer could not start: {error}"])
    handed = 0
    errors: list[str] = []
    try:
        handed = _send_all(producer, topic, table, speedup, deliveries)
    except Exception as error:  # a send that raises: whatever was not handed over is undelivered
        errors.append(f"send failed after {handed} records: {error!r}")
    waiting = producer.flush((tuning.delivery_timeout_ms + tuning.request_timeout_ms) / 1000)
    if waiting:
        errors.append(f"{waiting} records had no acknowledgement")
    delivered = sum(report.records for report in deliveries.partitions.values())
    return _ShareResult(deliveries.partitions, table.num_rows - delivered, errors + fatal + deliveries.errors)


def _produce_in_child(
    connection: Connection,
    bootstrap: str,
    topic: str,
    tuning: ProducerTuning,
    table: pa.Table,
    speedup: float,
    security: KafkaSecurity,
) -> None:  # pragma: no cover - runs in the forked producer process
    try:
        result = _produce_share(bootstrap, topic, tuning, table, speedup, security)
    except BaseException:
        result = _ShareResult({}, table.num_rows, [traceback.format_exc(limit=5)])
    connection.send(result)
    connection.close()


def _produce_in_processes(
    bootstrap: str,
    topic: str,
    tuning: ProducerTuning,
    shares: list[pa.Table],
    speedup: float,
    security: KafkaSecurity,
) -> list[_ShareResult]:
    """One forked producer per share. Fork, not spawn: the child inherits the Arrow table and
    the imported modules instead of re-importing for a second; it touches nothing but Kafka."""
    context = multiprocessing.get_context("fork")
    running: list[tuple[multiprocessing.process.BaseProcess, Connection, int]] = []
    try:
        for share in shares:
            receive, send = context.Pipe(duplex=False)
            process = context.Process(
                target=_produce_in_child,
                args=(send, bootstrap, topic, tuning, share, speedup, security),
                name="smartmeter-producer",
                daemon=True,
            )
            process.start()
            send.close()
            running.append((process, receive, share.num_rows))
        results = []
        for process, receive, rows in running:
            try:
                result = receive.recv()
            except EOFError:  # the producer died without a word (killed, out of memory)
                result = _ShareResult({}, rows, ["a producer process died before reporting"])
            process.join()
            if process.exitcode not in (0, None) and not result.errors:
                result.errors.append(f"producer process exited with code {process.exitcode}")
            results.append(result)
        return results
    finally:  # interrupted (Ctrl-C, run terminated): no producer outlives the publish
        for process, receive, _ in running:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            receive.close()


def publish_readings(
    enriched: pd.DataFrame | pa.Table,
    bootstrap: str,
    topic: str,
    partitions: int,
    tuning: ProducerTuning | None = None,
    speedup: float = 0.0,
    processes: int = 1,
    security: KafkaSecurity = UNSECURED,
) -> PublishReport:
    """Publish the enriched rows, key = meter_id, and wait until every one is acknowledged.

    ``processes``: producer processes. One is enough: librdkafka compresses and sends on its own
    threads, and one Python producer hands it ~180k readings/s (``benchmarks/publish.py``).
    ``speedup``: 0 sends as fast as possible; N replays the day's event time N times faster
    than real time. ``security``: the cluster's TLS/SASL, checked before any record is sent.
    Raises :class:`PublishError` unless every record was acknowledged.
    """
    tuning = tuning or ProducerTuning()
    check_connection(bootstrap, security)  # a refused login fails here, before anything is sent
    started = time.perf_counter()
    table = readings_table(enriched, partitions, with_event_seconds=speedup > 0)
    counts = pd.Series(table[_PARTITION_COLUMN].to_numpy()).value_counts().to_dict()
    owned = share_partitions({int(p): int(n) for p, n in counts.items()}, max(1, processes))
    if len(owned) <= 1:
        results = [_produce_share(bootstrap, topic, tuning, table, speedup, security)]
    else:
        column = table[_PARTITION_COLUMN]
        shares = [table.filter(pc.is_in(column, pa.array(parts, pa.int32()))) for parts in owned]
        results = _produce_in_processes(bootstrap, topic, tuning, shares, speedup, security)
    seconds = time.perf_counter() - started

    undelivered = sum(r.undelivered for r in results)
    if undelivered:
        errors = [e for r in results for e in r.errors]
        raise PublishError(topic, undelivered, table.num_rows, "; ".join(errors[:3]) or "unknown")
    by_partition = {p: PartitionReport(p) for p in range(partitions)}
    for result in results:
        by_partition.update(result.partitions)
    reports = [by_partition[p] for p in sorted(by_partition)]
    return PublishReport(
        topic=topic,
        records=sum(p.records for p in reports),
        bytes=sum(p.bytes for p in reports),
        seconds=seconds,
        processes=len(results),
        partitions=reports,
    )
